//! The fleet's definitions: the devices declared in `devices/*.toml`, synced into the store at
//! boot, and those created, edited and removed over the API, stored directly. Each function is
//! one store write; running the devices it defines is the supervisor's.

use std::path::Path;

use chrono::Utc;
use serde::Deserialize;

use super::phone_numbers;
use super::spec::{self, DeclaredDevices, DeviceFileError};
use super::{definition, stored, DeviceError};
use crate::model::{
    governor::GovernorChanges,
    spec::{
        connector_tables, CloudApiSpec, DeviceFilters, DeviceQr, DeviceSpec, SimulatorSpec,
        WahaSpec,
    },
    DeviceId,
};
use crate::store::{self, DeviceRecord, DeviceSource, Store};

/// Changes a PATCH may make. Connector and `qr` settings apply from the next start; a table
/// is replaced as a whole, but for the simulated phone's number, which stays unless given.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(deny_unknown_fields)]
#[schema(example = json!({ "name": "Shop (front desk)", "autostart": false }))]
pub struct DevicePatch {
    #[schema(schema_with = crate::model::constraints::optional_name)]
    pub name: Option<String>,
    pub autostart: Option<bool>,
    #[serde(default, deserialize_with = "crate::model::nested::optional_object")]
    pub simulator: Option<SimulatorSpec>,
    #[serde(default, deserialize_with = "crate::model::nested::optional_object")]
    pub waha: Option<WahaSpec>,
    #[serde(default, deserialize_with = "crate::model::nested::optional_object")]
    pub cloud_api: Option<CloudApiSpec>,
    #[serde(default, deserialize_with = "crate::model::nested::optional_object")]
    pub qr: Option<DeviceQr>,
    #[serde(default, deserialize_with = "crate::model::nested::optional_object")]
    pub filters: Option<DeviceFilters>,
    /// Changes to the send governor's limits, at once and kept over restarts, for a device
    /// declared in a file too (its file's `[governor]` stays as written, under them). Needs
    /// the `admin` scope.
    #[serde(default, deserialize_with = "crate::model::nested::optional_object")]
    pub governor: Option<GovernorChanges>,
}

impl DevicePatch {
    /// Whether it changes the device's definition, beyond its governor.
    pub fn changes_definition(&self) -> bool {
        let DevicePatch {
            name,
            autostart,
            simulator,
            waha,
            cloud_api,
            qr,
            filters,
            governor: _,
        } = self;
        name.is_some()
            || autostart.is_some()
            || simulator.is_some()
            || waha.is_some()
            || cloud_api.is_some()
            || qr.is_some()
            || filters.is_some()
    }

    /// The connector tables this change replaces (see [`connector_tables`]).
    pub fn connector_tables(&self) -> Vec<&'static str> {
        connector_tables(&self.waha, &self.cloud_api)
    }
}

/// Syncs `dir` into the store: file devices that disappeared are removed. Returns the files
/// that could not be used. When `dir` cannot be read, the devices of files are kept as
/// stored: a wrong working directory or a typo in `--devices-dir` must not delete them and
/// their messages.
pub(super) async fn sync_dir(
    store: &Store,
    dir: &Path,
) -> Result<Vec<DeviceFileError>, DeviceError> {
    match spec::load_dir(dir) {
        Ok(declared) => sync_files(store, declared).await,
        Err(error) => {
            tracing::warn!(
                dir = %dir.display(),
                %error,
                "devices directory unreadable: the devices of its files are kept as stored"
            );
            Ok(Vec::new())
        }
    }
}

/// Stores the devices `dir` declares and removes the file devices it no longer does (a
/// file that fails to parse keeps its device).
async fn sync_files(
    store: &Store,
    (declared, errors): DeclaredDevices,
) -> Result<Vec<DeviceFileError>, DeviceError> {
    for error in &errors {
        tracing::error!(%error, "device file skipped");
    }
    let broken: Vec<String> = errors
        .iter()
        .filter_map(|e| {
            e.path
                .file_stem()
                .and_then(|s| s.to_str())
                .map(str::to_owned)
        })
        .collect();
    store
        .write(move |tx| {
            let stored = store::devices::list(tx.conn())?;
            for existing in &stored {
                let still_declared = declared.iter().any(|(id, _)| *id == existing.id)
                    || broken.contains(&existing.id.to_string());
                if existing.source == DeviceSource::File && !still_declared {
                    tx.delete_device(&existing.id)?;
                }
            }
            // A file that gives no number keeps the one its device was given before.
            let mut declared = declared;
            for (id, spec) in &mut declared {
                if phone_numbers::wants_one(spec) {
                    let before = stored.iter().find(|record| record.id == *id);
                    spec.simulator.phone = before
                        .and_then(|record| definition(record).ok())
                        .and_then(|stored| stored.simulator.phone);
                }
            }
            // Those with a number are stored first, so that no other is given it; those
            // without are given the first free, none their contacts'.
            let (numbered, unnumbered): (Vec<_>, Vec<_>) = declared
                .into_iter()
                .partition(|(_, spec)| !phone_numbers::wants_one(spec));
            let besides = phone_numbers::contacts_of(unnumbered.iter().map(|(_, spec)| spec));
            for (id, mut spec) in numbered.into_iter().chain(unnumbered) {
                phone_numbers::assign(tx, &mut spec, &besides)?;
                tx.upsert_device(&DeviceRecord::new(id, &spec, DeviceSource::File))?;
            }
            Ok(())
        })
        .await?;
    Ok(errors)
}

/// Stores a device created over the API; it must not exist yet.
pub(super) async fn create(
    store: &Store,
    id: DeviceId,
    spec: DeviceSpec,
) -> Result<DeviceRecord, DeviceError> {
    spec.validate().map_err(DeviceError::Definition)?;
    store
        .write(move |tx| {
            if tx.device(&id)?.is_some() {
                return Ok(None);
            }
            let mut spec = spec;
            let own_contacts = phone_numbers::contacts_of([&spec]);
            phone_numbers::assign(tx, &mut spec, &own_contacts)?;
            tx.upsert_device(&DeviceRecord::new(id.clone(), &spec, DeviceSource::Api))?;
            tx.device(&id)
        })
        .await?
        .ok_or(DeviceError::Exists)
}

/// Changes a device created over the API as `patch` says.
pub(super) async fn update(
    store: &Store,
    id: &DeviceId,
    patch: DevicePatch,
) -> Result<DeviceRecord, DeviceError> {
    let id = id.clone();
    store
        .write(move |tx| {
            let Some(mut record) = tx.device(&id)? else {
                return Ok(Err(DeviceError::NotFound));
            };
            if record.source == DeviceSource::File {
                return Ok(Err(DeviceError::DeclaredInFile(format!(
                    "devices/{id}.toml"
                ))));
            }
            let mut spec = match definition(&record) {
                Ok(spec) => spec,
                Err(error) => return Ok(Err(error)),
            };
            if let Some(name) = patch.name {
                spec.name = name;
            }
            if let Some(autostart) = patch.autostart {
                spec.autostart = autostart;
            }
            if let Some(mut simulator) = patch.simulator {
                // Its number stays unless the change gives another.
                if simulator.phone.is_none() {
                    simulator.phone = spec.simulator.phone.take();
                }
                spec.simulator = simulator;
            }
            if let Some(qr) = patch.qr {
                spec.qr = qr;
            }
            if let Some(filters) = patch.filters {
                spec.filters = filters;
            }
            if let Some(waha) = patch.waha {
                spec.waha = Some(waha);
            }
            if let Some(cloud_api) = patch.cloud_api {
                spec.cloud_api = Some(cloud_api);
            }
            if let Err(problem) = spec.validate() {
                return Ok(Err(DeviceError::Definition(problem)));
            }
            record.name = spec.name.clone();
            record.autostart = spec.autostart;
            record.settings = serde_json::to_value(&spec)?;
            record.updated_at = Utc::now();
            tx.upsert_device(&record)?;
            Ok(tx.device(&id)?.ok_or(DeviceError::NotFound))
        })
        .await?
}

/// Deletes a device created over the API, with its journal; its actor must be stopped first
/// ([`check_removable`] tells whether it may be).
pub(super) async fn delete(store: &Store, id: &DeviceId) -> Result<(), DeviceError> {
    let deleted = id.clone();
    store.write(move |tx| tx.delete_device(&deleted)).await?;
    Ok(())
}

/// Refuses to remove a device declared in a file: the file would declare it again.
pub(super) async fn check_removable(store: &Store, id: &DeviceId) -> Result<(), DeviceError> {
    let record = stored(store, id).await?;
    if record.source == DeviceSource::File {
        return Err(DeviceError::DeclaredInFile(format!("devices/{id}.toml")));
    }
    Ok(())
}
