//! Empty: this crate only fetches Kryoptic's source (softhsm/setup.sh --tokens).
