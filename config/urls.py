from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from core import views as core_views
from insights import views as insights_views
from knowledge.urls import viewer_urlpatterns
from support.urls import api_urlpatterns

handler500 = "core.views.server_error"

urlpatterns = [
    path("", core_views.home, name="home"),
    path("favicon.ico", core_views.favicon, name="favicon"),
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("kb/", include("knowledge.urls")),
    path("kb/flows/", include("flows.urls")),
    path("demo/", include("demo.urls")),
    path("console/", include("escalation.urls")),
    path("insights/", include("insights.urls")),
    path("security/", include("guardrails.urls")),
    path("metrics", insights_views.prometheus, name="metrics"),
    path("api/v1/", include((api_urlpatterns, "api"))),
    path("", include("support.urls")),
    *viewer_urlpatterns,
]
