//! Cancel, run again, variation, publish (preview and confirm) through the gallery's POSTs.
