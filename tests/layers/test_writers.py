"""One writer per entity (issue 15): appointment and patient rows are written through
the ORM only inside their own apps (appointments/services.py, patients/services.py
and their models), read from the source with `ast`: a call of a writing queryset
method (`create`, `update`, `delete`, `bulk_create`, ...) on `Appointment.objects`
or `Patient.objects` anywhere else fails this test. (`instance.save()` cannot be
told apart statically; the services are the only place that saves these models.)"""

import ast

from tests.layers.test_imports import ROOT, _modules, project_packages

WRITES = {
    "create",
    "bulk_create",
    "bulk_update",
    "update",
    "delete",
    "get_or_create",
    "update_or_create",
    "_insert",
    "_raw_delete",
}
OWNERS = {"Appointment": "appointments", "Patient": "patients"}
# Generated demo data (organisations/demo.py) is seeded in bulk, like a migration.
ALLOWED = {"organisations.demo"}


def _writes(tree: ast.AST):
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in WRITES
        ):
            continue
        receiver, through_manager = node.func.value, False
        while isinstance(receiver, ast.Call | ast.Attribute):
            if isinstance(receiver, ast.Call):
                receiver = receiver.func
                continue
            through_manager |= receiver.attr in ("objects", "_base_manager")
            receiver = receiver.value
        if through_manager and isinstance(receiver, ast.Name) and receiver.id in OWNERS:
            yield receiver.id, node.func.attr, node.lineno


def test_appointments_and_patients_are_written_only_by_their_own_apps():
    found = []
    for module, path in _modules(ROOT, project_packages(ROOT)).items():
        if module in ALLOWED:
            continue
        for model, method, line in _writes(ast.parse(path.read_text(), str(path))):
            if module.split(".")[0] != OWNERS[model]:
                found.append(f"{module}:{line} {model}.objects….{method}()")
    assert found == [], "writes outside the owning app's services:\n" + "\n".join(found)


def test_the_check_sees_a_write_through_a_filtered_queryset():
    source = "Appointment.objects.filter(pk=1).select_for_update().update(note='x')"
    assert list(_writes(ast.parse(source))) == [("Appointment", "update", 1)]
