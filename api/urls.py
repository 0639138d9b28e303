from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.routers import DefaultRouter

from api import docs, lab_import, research, views

router = DefaultRouter()
router.register("sites", views.SiteViewSet, basename="site")
router.register("patients", views.PatientViewSet, basename="patient")
router.register("courses", views.CourseViewSet, basename="course")
router.register("regimen-changes", views.RegimenChangeViewSet, basename="regimenchange")
router.register("infusions", views.InfusionViewSet, basename="infusion")
router.register("lab-results", views.LabResultViewSet, basename="labresult")
router.register("imaging-studies", views.ImagingStudyViewSet, basename="imagingstudy")
router.register("assessments", views.AssessmentViewSet, basename="assessment")
router.register("reactions", views.ReactionViewSet, basename="reaction")
router.register("relapses", views.RelapseViewSet, basename="relapse")
router.register("medications", views.MedicationViewSet, basename="medication")
router.register("adverse-events", views.AdverseEventViewSet, basename="adverseevent")
router.register("screening-results", views.ScreeningResultViewSet, basename="screeningresult")
router.register("vaccinations", views.VaccinationViewSet, basename="vaccination")
router.register("phenotypes", views.PhenotypeViewSet, basename="phenotype")
router.register("comorbidities", views.ComorbidityViewSet, basename="comorbidity")
router.register("consents", views.ConsentViewSet, basename="consent")
router.register("alerts", views.AlertViewSet, basename="alert")
router.register("exports", research.ExportViewSet, basename="export")

app_name = "api"

urlpatterns = [
    # Before the router, whose lab-results/<pk>/ would take "import" for an id.
    path(
        "v1/lab-results/import/",
        lab_import.LabImportView.as_view(),
        name="labresult-bulk-import",
    ),
    path("v1/", include(router.urls)),
    # The schema and its docs page are for signed-in people (a session or a token) only.
    path(
        "schema/", SpectacularAPIView.as_view(permission_classes=[IsAuthenticated]), name="schema"
    ),
    path("docs/", docs.DocsView.as_view(url_name="api:schema"), name="docs"),
]
