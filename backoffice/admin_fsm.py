"""Admin pages whose state-machine buttons run the services, never the raw transitions.

django-fsm-2's admin integration draws one button per transition the user may take; here each
button (and each transition form, uploads included) calls the service registered for it, so the
row lock, the checks and the journal entry are the same as through the API.

Buttons are verbs ("Verify weights", "Accept audit"); a transition that cannot be undone first shows
a page saying what will happen (`confirmations`), and runs only when that page is posted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django import forms, http
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import models
from django.shortcuts import redirect, render
from django_fsm.admin import FSMAdminMixin

from backoffice.accounts.mfa import step_up_redirect
from backoffice.journal.services import TransitionRefused

# (admin request, the object, the transition form's cleaned data) -> the object after the change
TransitionService = Callable[[http.HttpRequest, Any, dict[str, Any]], Any]


def actor(request: http.HttpRequest) -> User:
    """The signed-in user of an admin request (admin views are never reached anonymously)."""
    return cast(User, request.user)


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), help_text="Kept in the journal.")


class ConfirmForm(forms.Form):
    """The confirmation page's form: posting it (and only that) takes the transition."""

    confirmed = forms.BooleanField(widget=forms.HiddenInput, initial=True,
                                   error_messages={"required": "Not confirmed: nothing was done."})


class ServiceFSMAdmin(FSMAdminMixin, admin.ModelAdmin):
    change_form_template = "admin/service_fsm_change_form.html"
    fsm_fields = ["state"]
    transition_services: dict[str, TransitionService] = {}
    refusals: tuple[type[Exception], ...] = (TransitionRefused, ValueError)
    # Optional: a ModelForm whose clean() runs the creating service (it gets `actor` set on its class),
    # the fields a change page shows read-only, and the permission that allows adding.
    add_form: Any = None
    change_fields: list[str] = []
    add_permission: str = ""
    # Button labels (verbs) by transition name, and the transitions that cannot be undone: for each, the
    # sentence the confirmation page shows (what will happen to which object).
    transition_labels: dict[str, str] = {}
    confirmations: dict[str, Callable[[Any], str]] = {}
    # Transitions that move money or act on an address: a second factor within the last minutes first.
    step_up_transitions: frozenset[str] = frozenset()

    @staticmethod
    def get_fsm_block_label(fsm_field_name: str) -> str:
        return "Next steps"

    def get_fsm_label(self, transition: Any) -> str:
        name = transition.name
        return self.transition_labels.get(name) or name.replace("_", " ").capitalize()

    def object_name(self, obj: Any) -> str:
        """How messages and titles name the object (its public reference where it has one)."""
        return str(obj)

    def get_fields(self, request: http.HttpRequest, obj: Any = None) -> Any:
        if obj is None and self.add_form is not None:
            return list(self.add_form.Meta.fields)
        if obj is not None and self.change_fields:
            return self.change_fields
        return super().get_fields(request, obj)

    def get_readonly_fields(self, request: http.HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return list(super().get_readonly_fields(request, obj))
        return self.change_fields or [f.name for f in self.model._meta.concrete_fields]

    def get_form(self, request: http.HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if self.add_form is None:
            return super().get_form(request, obj, change=change, **kwargs)
        # The add form creates through the service; a change page only shows and takes transitions.
        kwargs["form"] = self.add_form if obj is None else forms.ModelForm
        form: Any = super().get_form(request, obj, change=change, **kwargs)
        if obj is None:
            form.actor = actor(request)  # a class made for this request by modelform_factory
        return form

    def has_add_permission(self, request: http.HttpRequest) -> bool:
        if self.add_permission:
            return request.user.has_perm(self.add_permission)
        return super().has_add_permission(request)

    def has_change_permission(self, request: http.HttpRequest, obj: Any = None) -> bool:
        # Nothing is edited in place: "change" means taking one of the transitions you are allowed.
        if obj is None:
            return super().has_change_permission(request, obj) or self._any_transition_permission(request)
        available = obj.get_available_user_state_transitions(user=request.user)
        return any(t.name in self.transition_services for t in available)

    def _any_transition_permission(self, request: http.HttpRequest) -> bool:
        app = self.model._meta.app_label
        return any(request.user.has_perm(f"{app}.{codename}") for codename, _ in self.model._meta.permissions)

    def has_delete_permission(self, request: http.HttpRequest, obj: Any = None) -> bool:
        return False

    def render_change_form(self, request: http.HttpRequest, context: dict[str, Any], add: bool = False,
                           change: bool = False, form_url: str = "", obj: Any = None) -> http.HttpResponse:
        if obj is not None:
            # Nothing on a change page is editable: only the transition buttons may act.
            context.update(show_save=False, show_save_and_continue=False, show_save_and_add_another=False,
                           show_delete=False)
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def save_model(self, request: http.HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            return  # the change form holds no editable field; the transition runs in response_change
        self.create_with_service(request, obj, form.cleaned_data)

    def create_with_service(self, request: http.HttpRequest, obj: Any, data: dict[str, Any]) -> None:
        raise PermissionDenied

    def _apply_fsm_transition(self, *, obj: models.Model, transition_name: str, request: http.HttpRequest,
                              kwargs: Any = None) -> bool:
        service = self.transition_services.get(transition_name)
        if service is None:
            self.message_user(request, f"'{transition_name}' cannot be taken here", level=messages.ERROR)
            return False
        try:
            service(request, obj, dict(kwargs or {}))
        except self.refusals as exc:
            self.message_user(request, f"Refused, nothing changed: {exc}", level=messages.ERROR)
            return False
        self.message_user(request, f"{self.object_name(obj)}: {self.get_fsm_label_by_name(transition_name)}.",
                          level=messages.SUCCESS)
        return True

    def get_fsm_label_by_name(self, name: str) -> str:
        """What the success message says was done."""
        return f"done ({self.transition_labels.get(name, name.replace('_', ' ')).lower()})"

    def response_change(self, request: http.HttpRequest, obj: Any) -> http.HttpResponse:
        # An irreversible button leads to its confirmation page; it never acts from the change form.
        name = request.POST.get(self.fsm_post_param)
        if name in self.step_up_transitions and (refusal := step_up_redirect(request)):
            return refusal
        if name in self.confirmations:
            meta = self.model._meta
            return redirect(f"admin:{meta.app_label}_{meta.model_name}_transition", object_id=obj.pk,
                            transition_name=name)
        return super().response_change(request, obj)

    def fsm_transition_view(self, request: http.HttpRequest, object_id: str, transition_name: str,
                            **kwargs: Any) -> http.HttpResponse:
        """The transition's form (a reason, a file), with uploads passed through to the service."""
        obj = self.get_object(request, object_id)
        if obj is None:
            raise http.Http404
        transition = self._get_fsm_transition_by_name(obj=obj, transition_name=transition_name)
        if not transition.has_perm(obj, user=request.user):
            raise PermissionDenied(f"Your role may not take the step '{self.get_fsm_label(transition)}' on "
                                   f"{self.object_name(obj)}; nothing was changed.")
        form_class = self.get_fsm_transition_form(transition)
        confirmation = self.confirmations.get(transition_name)
        if form_class is None and confirmation is not None:
            form_class = ConfirmForm
        if form_class is None:
            return http.HttpResponseBadRequest(f"{transition_name} takes no form")
        posted = request.method == "POST"
        if posted and transition_name in self.step_up_transitions and (refusal := step_up_redirect(request)):
            return refusal
        form = form_class(data=request.POST if posted else None, files=request.FILES if posted else None)
        if request.method == "POST" and form.is_valid() and self._apply_fsm_transition(
            obj=obj, transition_name=transition_name, request=request, kwargs=form.cleaned_data
        ):
            meta = self.model._meta
            return redirect(f"admin:{meta.app_label}_{meta.model_name}_change", object_id=obj.pk)
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "original": obj,
                   "title": f"{self.get_fsm_label(transition)}: {self.object_name(obj)}",
                   "transition": {"name": transition_name, "label": self.get_fsm_label(transition),
                                  "help_text": self.get_help_text(transition)},
                   "confirmation": confirmation(obj) if confirmation is not None else "",
                   "transition_form": form}
        return render(request, "admin/fsm_transition_form.html", context)
