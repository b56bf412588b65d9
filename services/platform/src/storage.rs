//! Object storage for files: a local folder in the embedded mode, an S3-compatible store in
//! the server mode, both behind `object_store`. Services store only sealed bytes here.

use std::sync::Arc;

use object_store::{ObjectStore, aws::AmazonS3Builder, local::LocalFileSystem};

use crate::config::{FileStoreKind, Settings};

#[derive(Debug, thiserror::Error)]
#[error("files settings: {0}")]
pub struct StorageSettingsError(String);

/// Opens the configured object store.
pub fn open(settings: &Settings) -> Result<Arc<dyn ObjectStore>, StorageSettingsError> {
    match settings.file_store() {
        FileStoreKind::Local => {
            let directory = settings.files_directory();
            std::fs::create_dir_all(&directory)
                .map_err(|e| StorageSettingsError(format!("files.directory {}: {e}", directory.display())))?;
            let store = LocalFileSystem::new_with_prefix(&directory)
                .map_err(|e| StorageSettingsError(format!("files.directory: {e}")))?;
            Ok(Arc::new(store))
        }
        FileStoreKind::S3 => {
            let files = &settings.files;
            let bucket = files.s3_bucket.clone().unwrap_or_default();
            let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
            if let Some(endpoint) = &files.s3_endpoint {
                builder = builder.with_endpoint(endpoint).with_virtual_hosted_style_request(false);
            }
            if let Some(region) = &files.s3_region {
                builder = builder.with_region(region);
            }
            if let Some(key) = &files.s3_access_key_id {
                builder = builder.with_access_key_id(key.expose());
            }
            if let Some(secret) = &files.s3_secret_access_key {
                builder = builder.with_secret_access_key(secret.expose());
            }
            let store = builder
                .with_allow_http(files.s3_allow_http)
                .build()
                .map_err(|e| StorageSettingsError(format!("files.s3_*: {e}")))?;
            Ok(Arc::new(store))
        }
    }
}
