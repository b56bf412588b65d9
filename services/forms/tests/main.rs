//! The forms service through its gRPC face.
