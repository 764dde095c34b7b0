//! The stores of Azure resources: custom metrics posted to
//! `{resourceUri}/metrics` are kept under that resource, apart from the
//! sink's own store (what `/ingest`, `/callbacks` and `POST /metrics`
//! fill: the platform metrics every resource id answers), as Azure keeps
//! each resource's custom metrics; a query for a resource's custom
//! namespace reads its store when it has one.
//!
//! With `--data-dir`, a resource's log is `resources/KEY/wal.log`, KEY the
//! first 16 hex digits of the SHA-256 of its id in lower case, and
//! `resources/KEY/resource-id` names it; every one is replayed at start.

use super::store::{Store, StoreOptions};
use super::wal::{OpenReport, WalError};
use sha2::Digest;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// The file naming a resource's folder.
const ID_FILE: &str = "resource-id";

pub(crate) struct ResourceStores {
    /// `data_dir/resources`, for a sink with a data dir.
    dir: Option<PathBuf>,
    options: StoreOptions,
    /// By resource id in lower case (Azure compares ids without case).
    stores: RwLock<BTreeMap<String, Arc<Store>>>,
}

/// What replaying one resource's log found.
pub(crate) struct ResourceReport {
    pub resource: String,
    /// Its folder, which holds its `wal.log`.
    pub folder: PathBuf,
    pub report: OpenReport,
    pub batches: u64,
}

impl ResourceStores {
    /// The resources of `data_dir` (replayed now), or none in memory.
    pub(crate) fn open(
        data_dir: Option<&Path>,
        options: StoreOptions,
    ) -> Result<(ResourceStores, Vec<ResourceReport>), WalError> {
        let dir = data_dir.map(|d| d.join("resources"));
        let mut stores = BTreeMap::new();
        let mut reports = Vec::new();
        if let Some(dir) = &dir
            && dir.is_dir()
        {
            let io = |path: &Path| {
                let path = path.to_path_buf();
                move |source| WalError::Io { path, source }
            };
            let mut folders: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(io(dir))?
                .map(|entry| entry.map(|e| e.path()).map_err(io(dir)))
                .collect::<Result<_, _>>()?;
            folders.sort();
            for folder in folders.into_iter().filter(|f| f.is_dir()) {
                let id_file = folder.join(ID_FILE);
                let resource = std::fs::read_to_string(&id_file).map_err(io(&id_file))?;
                let resource = resource.trim().to_string();
                let (store, report) = Store::open(&folder, options)?;
                let batches = store.stats().replayed_batches;
                stores.insert(resource.to_ascii_lowercase(), Arc::new(store));
                reports.push(ResourceReport {
                    resource,
                    folder,
                    report,
                    batches,
                });
            }
        }
        let stores = ResourceStores {
            dir,
            options,
            stores: RwLock::new(stores),
        };
        Ok((stores, reports))
    }

    /// The store of `resource`, if anything was posted for it.
    pub(crate) fn get(&self, resource: &str) -> Option<Arc<Store>> {
        let stores = self.stores.read().unwrap_or_else(|e| e.into_inner());
        stores.get(&resource.to_ascii_lowercase()).cloned()
    }

    /// The store of `resource`, made (with its folder) if it has none.
    pub(crate) fn get_or_make(&self, resource: &str) -> Result<Arc<Store>, WalError> {
        if let Some(store) = self.get(resource) {
            return Ok(store);
        }
        let mut stores = self.stores.write().unwrap_or_else(|e| e.into_inner());
        let key = resource.to_ascii_lowercase();
        if let Some(store) = stores.get(&key) {
            return Ok(store.clone());
        }
        let store = match &self.dir {
            None => Store::in_memory(self.options),
            Some(dir) => {
                let digest = sha2::Sha256::digest(key.as_bytes());
                let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
                let folder = dir.join(name);
                let id_file = folder.join(ID_FILE);
                std::fs::create_dir_all(&folder)
                    .and_then(|()| std::fs::write(&id_file, format!("{resource}\n")))
                    .map_err(|source| WalError::Io {
                        path: id_file,
                        source,
                    })?;
                Store::open(&folder, self.options)?.0
            }
        };
        let store = Arc::new(store);
        stores.insert(key, store.clone());
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACS: &str = "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Communication/CommunicationServices/acs";

    #[test]
    fn a_resource_store_is_found_by_its_id_in_any_case_and_replayed_from_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let options = StoreOptions::default();
        let (stores, reports) = ResourceStores::open(Some(dir.path()), options).unwrap();
        assert!(reports.is_empty());
        assert!(stores.get(ACS).is_none());
        let made = stores.get_or_make(ACS).unwrap();
        let again = stores.get_or_make(&ACS.to_ascii_uppercase()).unwrap();
        assert!(
            Arc::ptr_eq(&made, &again),
            "one store per resource, whatever the case"
        );
        drop((made, again, stores));
        let (stores, reports) = ResourceStores::open(Some(dir.path()), options).unwrap();
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].resource, ACS);
        assert!(stores.get(ACS).is_some(), "replayed at start");
    }
}
