"""A batch path beneath Faust's per-event conductor: fetched batches straight to batch handlers."""
