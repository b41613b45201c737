from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from alphaloop.scoping import user_accounts


@login_required
def home(request):
    accounts = user_accounts(request.user).prefetch_related("positions")
    return render(request, "dashboard/home.html", {"accounts": accounts})
