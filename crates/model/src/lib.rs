//! The domain model of imagedex: image references, observations from sources, image records,
//! and the identity and merge rules that turn observations into records.

pub mod observation;
pub mod record;
pub mod reference;
pub mod tag;

pub use observation::{merge_observations, Finding, Observation, Severity};
pub use record::{platform_architecture, Flavor, ImageRecord, VulnerabilityCounts};
pub use reference::{ImageName, ImageReference, ReferenceError};
pub use tag::{Tag, TagError};
