from django.urls import path

from . import views

app_name = "reserve"

urlpatterns = [
    path("reserve/", views.reserve_proof, name="proof"),
    path("reserve/bars.csv", views.bars_csv, name="bars-csv"),
    path("api/reserve/", views.ReserveApi.as_view(), name="api"),
]
