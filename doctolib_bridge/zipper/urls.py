from django.urls import path

from doctolib_bridge.zipper import views

urlpatterns = [
    path("connection", views.ConnectionView.as_view()),
    path("patient-suggestions", views.SuggestionsView.as_view()),
    path("patients", views.PatientsView.as_view()),
    path("patients/<str:doctolib_patient_id>", views.PatientDetailView.as_view()),
    path("links", views.LinksView.as_view()),
    path("changes", views.ChangesView.as_view()),
    path("appointments/<str:doctolib_appointment_id>", views.AppointmentView.as_view()),
    path("transfers", views.TransfersView.as_view()),
    path("transfers/<str:transfer_id>/commit", views.TransferCommitView.as_view()),
]
