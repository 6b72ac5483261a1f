//! The Datadog Agent's container-image payload, as prost messages written by hand.
//!
//! Field numbers, types and names follow `proto/contimage/contimage.proto` of
//! DataDog/agent-payload (package `datadog.contimage`) as tabled in the project's research
//! notes, `AGENT-INTAKE.md` §2.1 (agent-payload read at `bccd2290e792`). Hand-written so the
//! build needs no `protoc`; nested messages of the `.proto` are flattened here, which does not
//! change the wire format. Every field is decoded, used or not, so the structs also serve tests
//! and tools that build payloads.

/// `datadog.contimage.ContainerImagePayload`: one HTTP request of the agent's
/// `container_image` check.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ContainerImagePayload {
    /// `"v1"` from the agent.
    #[prost(string, tag = "1")]
    pub version: String,
    /// The agent's hostname (empty from the oldest agents).
    #[prost(string, tag = "2")]
    pub host: String,
    #[prost(message, repeated, tag = "3")]
    pub images: Vec<ContainerImage>,
    /// `"agent"` from the agent.
    #[prost(string, optional, tag = "4")]
    pub source: Option<String>,
}

/// `datadog.contimage.ContainerImage`: one image under one repository name.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ContainerImage {
    /// `<repo>@<image id>`.
    #[prost(string, tag = "1")]
    pub id: String,
    /// The repository, without tag or digest, as the runtime spells it (`nginx` or
    /// `docker.io/library/nginx`).
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(string, tag = "3")]
    pub registry: String,
    #[prost(string, tag = "4")]
    pub short_name: String,
    /// Tags alone, without the repository (named `tags` before Feb 2023, same number).
    #[prost(string, repeated, tag = "5")]
    pub repo_tags: Vec<String>,
    /// The image id: normally the config digest.
    #[prost(string, tag = "6")]
    pub digest: String,
    #[prost(int64, tag = "7")]
    pub size: i64,
    /// `<repo>@sha256:…`, the manifest or index digests the repository's tags point to.
    #[prost(string, repeated, tag = "8")]
    pub repo_digests: Vec<String>,
    #[prost(message, optional, tag = "9")]
    pub os: Option<OperatingSystem>,
    #[prost(message, repeated, tag = "10")]
    pub layers: Vec<ContainerImageLayer>,
    #[prost(message, optional, tag = "11")]
    pub built_at: Option<Timestamp>,
    /// The tagger's tags of the image, `key:value`.
    #[prost(string, repeated, tag = "12")]
    pub dd_tags: Vec<String>,
    /// Never set by the agent.
    #[prost(message, optional, tag = "13")]
    pub published_at: Option<Timestamp>,
}

/// `datadog.contimage.ContainerImage.OperatingSystem` (the agent sends no variant).
#[derive(Clone, PartialEq, prost::Message)]
pub struct OperatingSystem {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub version: String,
    #[prost(string, tag = "3")]
    pub architecture: String,
}

/// `datadog.contimage.ContainerImage.ContainerImageLayer`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ContainerImageLayer {
    #[prost(string, repeated, tag = "1")]
    pub urls: Vec<String>,
    #[prost(string, tag = "2")]
    pub media_type: String,
    #[prost(string, tag = "3")]
    pub digest: String,
    #[prost(int64, tag = "4")]
    pub size: i64,
    #[prost(message, optional, tag = "5")]
    pub history: Option<LayerHistory>,
}

/// `datadog.contimage.ContainerImage.ContainerImageLayer.History`: one OCI history entry.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LayerHistory {
    #[prost(message, optional, tag = "1")]
    pub created: Option<Timestamp>,
    #[prost(string, tag = "2")]
    pub created_by: String,
    #[prost(string, tag = "3")]
    pub author: String,
    #[prost(string, tag = "4")]
    pub comment: String,
    #[prost(bool, tag = "5")]
    pub empty_layer: bool,
}

/// `google.protobuf.Timestamp`.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}
