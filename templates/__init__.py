"""Document-level templates (package data; see render.document_templates)."""
