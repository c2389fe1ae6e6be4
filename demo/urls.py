from django.urls import path

from demo import views

app_name = "demo"
urlpatterns = [
    path("api/orders/status/", views.order_status, name="order-status"),
    path("api/returns/", views.returns, name="returns"),
]
