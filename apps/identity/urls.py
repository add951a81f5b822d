from django.urls import path

from apps.identity import views

urlpatterns = [
    path("auth/register", views.RegisterView.as_view(), name="identity-register"),
    path("auth/login", views.LoginView.as_view(), name="identity-login"),
    path("auth/refresh", views.RefreshView.as_view(), name="identity-refresh"),
    path("auth/logout", views.LogoutView.as_view(), name="identity-logout"),
    path("users/me", views.MeView.as_view(), name="identity-me"),
]
