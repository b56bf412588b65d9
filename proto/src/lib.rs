//! Generated protobuf types and gRPC stubs of every Ohjaus service and event.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

/// Encoded `FileDescriptorSet` of every package, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptor.bin"));

pub mod tenants {
    pub mod v1 {
        tonic::include_proto!("ohjaus.tenants.v1");
    }
}

pub mod events {
    pub mod v1 {
        tonic::include_proto!("ohjaus.events.v1");
    }
}
