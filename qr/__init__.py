"""Complaint posters: QR codes, A4/A5/A6 layouts, PDF and PNG, streamed in bulk."""
