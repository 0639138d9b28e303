from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/code/", views.verify, name="verify"),
    path("account/two-factor/", views.two_factor_page, name="two_factor"),
    path("account/password/", views.PasswordChange.as_view(), name="password_change"),
    path("password-reset/", views.PasswordReset.as_view(), name="password_reset"),
    path("password-reset/sent/", views.PasswordResetSent.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        views.PasswordResetConfirm.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        views.PasswordResetComplete.as_view(),
        name="password_reset_complete",
    ),
]
