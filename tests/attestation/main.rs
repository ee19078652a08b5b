//! HSM key attestation: the real Google Cloud HSM sample, generated MRVL-1
//! chains, tampering and bad inputs.

mod gcp_import_job;
mod generated;
mod google;
mod mutation;
mod rig;
mod rules;
