from django.urls import include, path

from clinic import (
    access_log,
    consent,
    infusion_list,
    lab_import,
    notifications,
    outcomes,
    phenotype,
    safety,
    views,
)

app_name = "clinic"

urlpatterns = [
    path("outcomes/", outcomes.outcomes, name="outcomes"),
    path("outcomes/<slug:table>.csv", outcomes.outcomes_csv, name="outcomes_csv"),
    path("", views.home, name="home"),
    path("worklist/", views.worklist, name="worklist"),
    path("infusions/", infusion_list.infusion_list, name="infusion_list"),
    path("alerts/<int:alert_id>/<slug:action>/", views.alert_action, name="alert_action"),
    path("patients/", views.patients, name="patients"),
    path("patients/<int:patient_id>/", views.patient_detail, name="patient"),
    path(
        "patients/<int:patient_id>/alerts/",
        views.patient_alert_history,
        name="patient_alert_history",
    ),
    path("patients/<int:patient_id>/courses/new/", views.start_course, name="start_course"),
    path("patients/<int:patient_id>/labs/new/", views.record_lab, name="record_lab"),
    path("patients/<int:patient_id>/imaging/new/", views.record_imaging, name="record_imaging"),
    path(
        "patients/<int:patient_id>/assessments/new/",
        views.record_assessment,
        name="record_assessment",
    ),
    path(
        "patients/<int:patient_id>/medications/new/",
        views.record_medication,
        name="record_medication",
    ),
    path("medications/<int:medication_id>/stop/", views.stop_medication, name="stop_medication"),
    path("courses/<int:course_id>/infusions/new/", views.record_infusion, name="record_infusion"),
    path("courses/<int:course_id>/reactions/new/", views.record_reaction, name="record_reaction"),
    path("courses/<int:course_id>/regimen/new/", views.change_regimen, name="change_regimen"),
    path("courses/<int:course_id>/stop/", views.stop_course, name="stop_course"),
    path("courses/<int:course_id>/relapse/", views.record_relapse, name="record_relapse"),
    path("reactions/<int:reaction_id>/review/", views.review_reaction, name="review_reaction"),
    # The safety record: adverse events, screening results, vaccinations (clinic.safety).
    path(
        "patients/<int:patient_id>/adverse-events/new/",
        safety.record_adverse_event,
        name="record_adverse_event",
    ),
    path(
        "adverse-events/<int:event_id>/review/",
        safety.review_adverse_event,
        name="review_adverse_event",
    ),
    path(
        "patients/<int:patient_id>/screening/new/", safety.record_screening, name="record_screening"
    ),
    path("screening/<int:screening_id>/review/", safety.review_screening, name="review_screening"),
    path(
        "patients/<int:patient_id>/vaccinations/new/",
        safety.record_vaccination,
        name="record_vaccination",
    ),
    path(
        "vaccinations/<int:vaccination_id>/review/",
        safety.review_vaccination,
        name="review_vaccination",
    ),
    path("patients/<int:patient_id>/consents/new/", consent.record_consent, name="record_consent"),
    path("consents/<int:consent_id>/withdraw/", consent.withdraw_consent, name="withdraw_consent"),
    # The CRMO phenotype and comorbidities (clinic.phenotype).
    path(
        "patients/<int:patient_id>/phenotype/", phenotype.record_phenotype, name="record_phenotype"
    ),
    path(
        "patients/<int:patient_id>/comorbidities/new/",
        phenotype.record_comorbidity,
        name="record_comorbidity",
    ),
    path(
        "comorbidities/<int:comorbidity_id>/correct/",
        phenotype.correct_comorbidity,
        name="correct_comorbidity",
    ),
    path("guideline/", views.guideline, name="guideline"),
    path("lab-import/", include(lab_import.urlpatterns)),
    path(
        "settings/notifications/",
        notifications.notification_settings,
        name="notification_settings",
    ),
    path("notifications/unsubscribe/<str:token>/", notifications.unsubscribe, name="unsubscribe"),
    path("research/", include("research.urls")),
    path("access-log/", access_log.access_log, name="access_log"),
    path("access-log.csv", access_log.access_log_csv, name="access_log_csv"),
]
