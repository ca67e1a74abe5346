"""django_otp_webauthn's endpoints (its `otp_webauthn` namespace, which its scripts reverse), with the two
completions replaced by ours (views_mfa): the step-up time is noted and enrolment journalled."""

from django.urls import path
from django.views.i18n import JavaScriptCatalog
from django_otp_webauthn.views import BeginCredentialAuthenticationView, BeginCredentialRegistrationView

from .views_mfa import PasskeyAuthenticationCompleteView, PasskeyRegistrationCompleteView

app_name = "otp_webauthn"

urlpatterns = [
    path("registration/begin/", BeginCredentialRegistrationView.as_view(), name="credential-registration-begin"),
    path("registration/complete/", PasskeyRegistrationCompleteView.as_view(),
         name="credential-registration-complete"),
    path("authentication/begin/", BeginCredentialAuthenticationView.as_view(),
         name="credential-authentication-begin"),
    path("authentication/complete/", PasskeyAuthenticationCompleteView.as_view(),
         name="credential-authentication-complete"),
    path("jsi18n/", JavaScriptCatalog.as_view(packages=["django_otp_webauthn"]), name="js-i18n-catalog"),
]
