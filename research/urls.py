from django.urls import path

from research import views

app_name = "research"

urlpatterns = [
    path("", views.exports, name="exports"),
    path("exports/<int:export_id>/row/", views.export_row, name="export_row"),
    path("exports/<int:export_id>/download/", views.download, name="download"),
]
