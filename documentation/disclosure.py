"""Documentation (with corrections) and attachments in a patient's disclosure ZIP
(patients.disclosure): `record.json` lists them, `anhaenge/` holds the files."""

from documentation import selectors
from documentation.serializers import AttachmentOutput, EntryOutput
from documentation.services import stored_bytes
from patients.disclosure import DisclosureSection


def attachment_path(attachment) -> str:
    return f"anhaenge/{attachment.public_id}-{attachment.name}"


def _entries(patient, context) -> list:
    return EntryOutput(selectors.patient_entries(patient=patient), many=True, context=context).data


def _attachments(patient, context) -> list:
    attachments = selectors.patient_attachments(patient=patient)
    data = AttachmentOutput(attachments, many=True, context=context).data
    for item, attachment in zip(data, attachments, strict=True):
        item["file"] = attachment_path(attachment)
    return data


def _attachment_files(patient):
    for attachment in selectors.patient_attachments(patient=patient):
        yield attachment_path(attachment), stored_bytes(attachment)


DOCUMENTATION = DisclosureSection(name="documentation", records=_entries)
ATTACHMENTS = DisclosureSection(name="attachments", records=_attachments, files=_attachment_files)
