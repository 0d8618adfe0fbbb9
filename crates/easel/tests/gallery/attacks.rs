//! What a page open to a network must withstand.
