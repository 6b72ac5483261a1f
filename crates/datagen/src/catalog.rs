//! What the generator draws names and shapes from: registries, well-known public repositories,
//! the organisation's teams, services, environments and clusters, and the operating systems
//! under images.

/// A kind of registry; the private ECR hosts and the public ECR alias are drawn per dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Registry {
    DockerHub,
    Ghcr,
    Quay,
    Gcr,
    PublicEcr,
    Internal,
    PrivateEcr,
}

/// Where repositories live, weighted.
pub(crate) const REGISTRIES: [(Registry, u32); 7] = [
    (Registry::DockerHub, 26),
    (Registry::Ghcr, 12),
    (Registry::Quay, 6),
    (Registry::Gcr, 6),
    (Registry::PublicEcr, 5),
    (Registry::Internal, 25),
    (Registry::PrivateEcr, 20),
];

pub(crate) const INTERNAL_REGISTRY: &str = "registry.internal.example:5000";
pub(crate) const AWS_REGIONS: [&str; 4] = ["us-east-1", "eu-west-1", "us-west-2", "ap-southeast-2"];

impl Registry {
    /// The host of a public registry; `None` for those whose host is drawn per dataset.
    pub fn public_host(self) -> Option<&'static str> {
        match self {
            Registry::DockerHub => Some("docker.io"),
            Registry::Ghcr => Some("ghcr.io"),
            Registry::Quay => Some("quay.io"),
            Registry::Gcr => Some("gcr.io"),
            Registry::PublicEcr => Some("public.ecr.aws"),
            Registry::Internal => Some(INTERNAL_REGISTRY),
            Registry::PrivateEcr => None,
        }
    }

    /// How often a repository on this registry is somebody else's well-known image rather
    /// than one the organisation builds.
    pub fn public_share(self) -> f64 {
        match self {
            Registry::DockerHub | Registry::PublicEcr => 0.7,
            Registry::Quay => 0.8,
            Registry::Gcr => 0.6,
            Registry::Ghcr => 0.5,
            Registry::Internal | Registry::PrivateEcr => 0.0,
        }
    }
}

/// The operating system an image is built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base {
    Alpine,
    Debian,
    Ubuntu,
    Distroless,
    /// A static binary, or an OS Trivy does not recognise: no OS version.
    Scratch,
    Windows,
}

/// Bases of the organisation's own Linux images, weighted.
pub(crate) const OWN_BASES: [(Base, u32); 5] = [
    (Base::Alpine, 32),
    (Base::Debian, 34),
    (Base::Ubuntu, 14),
    (Base::Distroless, 12),
    (Base::Scratch, 8),
];

/// Expected vulnerability counts of a fresh image: critical, high, medium, low, unknown.
pub(crate) struct Exposure(pub [f64; 5]);

impl Base {
    /// OS versions as Trivy reports them, oldest first; empty when there is none.
    pub fn os_versions(self) -> &'static [&'static str] {
        match self {
            Base::Alpine => &["3.16.9", "3.17.7", "3.18.6", "3.19.1", "3.20.3", "3.21.2"],
            Base::Debian => &["11.7", "11.9", "12.1", "12.4", "12.7", "12.9"],
            Base::Ubuntu => &["20.04", "22.04", "22.04", "24.04"],
            Base::Distroless => &["11.9", "12.5", "12.8"],
            Base::Scratch | Base::Windows => &[],
        }
    }

    /// The typical image size as a base-2 logarithm of bytes, and its spread.
    pub fn log2_size(self) -> (f64, f64) {
        match self {
            Base::Alpine => (24.6, 1.1),
            Base::Debian => (27.4, 0.9),
            Base::Ubuntu => (28.1, 0.9),
            Base::Distroless => (25.0, 0.8),
            Base::Scratch => (24.2, 1.1),
            Base::Windows => (30.2, 0.4),
        }
    }

    pub fn exposure(self) -> Exposure {
        Exposure(match self {
            Base::Alpine => [0.3, 2.0, 4.0, 1.0, 0.2],
            Base::Debian => [3.0, 25.0, 60.0, 90.0, 3.0],
            Base::Ubuntu => [0.6, 10.0, 50.0, 60.0, 1.0],
            Base::Distroless => [0.5, 3.0, 6.0, 10.0, 0.5],
            Base::Scratch => [0.5, 3.0, 4.0, 1.0, 0.0],
            Base::Windows => [5.0, 40.0, 30.0, 5.0, 0.0],
        })
    }
}

/// A well-known public repository: registry, path, base, and whether it has `-alpine` tags.
pub(crate) type PublicRepository = (Registry, &'static str, Base, bool);

pub(crate) const PUBLIC_REPOSITORIES: &[PublicRepository] = {
    use Base::*;
    use Registry::*;
    &[
        (DockerHub, "library/nginx", Debian, true),
        (DockerHub, "library/redis", Debian, true),
        (DockerHub, "library/postgres", Debian, true),
        (DockerHub, "library/alpine", Alpine, false),
        (DockerHub, "library/ubuntu", Ubuntu, false),
        (DockerHub, "library/debian", Debian, false),
        (DockerHub, "library/python", Debian, true),
        (DockerHub, "library/node", Debian, true),
        (DockerHub, "library/golang", Debian, true),
        (DockerHub, "library/busybox", Scratch, false),
        (DockerHub, "library/mysql", Debian, false),
        (DockerHub, "library/mongo", Ubuntu, false),
        (DockerHub, "library/httpd", Debian, true),
        (DockerHub, "library/memcached", Debian, true),
        (DockerHub, "library/rabbitmq", Ubuntu, true),
        (DockerHub, "library/traefik", Alpine, false),
        (DockerHub, "library/haproxy", Debian, true),
        (DockerHub, "library/eclipse-temurin", Ubuntu, true),
        (DockerHub, "library/ruby", Debian, true),
        (DockerHub, "library/php", Debian, true),
        (DockerHub, "library/wordpress", Debian, false),
        (DockerHub, "library/registry", Alpine, false),
        (DockerHub, "library/nats", Scratch, false),
        (DockerHub, "library/caddy", Alpine, false),
        (DockerHub, "library/openjdk", Debian, true),
        (DockerHub, "library/maven", Ubuntu, false),
        (DockerHub, "library/tomcat", Ubuntu, false),
        (DockerHub, "library/rust", Debian, true),
        (DockerHub, "library/mariadb", Ubuntu, false),
        (DockerHub, "library/zookeeper", Ubuntu, false),
        (DockerHub, "library/cassandra", Ubuntu, false),
        (DockerHub, "library/influxdb", Debian, true),
        (DockerHub, "library/telegraf", Debian, true),
        (DockerHub, "library/sonarqube", Ubuntu, false),
        (DockerHub, "library/ghost", Debian, true),
        (DockerHub, "library/bash", Alpine, false),
        (DockerHub, "bitnami/redis", Debian, false),
        (DockerHub, "bitnami/postgresql", Debian, false),
        (DockerHub, "bitnami/kafka", Debian, false),
        (DockerHub, "bitnami/kubectl", Debian, false),
        (DockerHub, "bitnami/mongodb", Debian, false),
        (DockerHub, "grafana/grafana", Alpine, false),
        (DockerHub, "grafana/loki", Alpine, false),
        (DockerHub, "grafana/promtail", Debian, false),
        (DockerHub, "prom/prometheus", Scratch, false),
        (DockerHub, "prom/alertmanager", Scratch, false),
        (DockerHub, "prom/node-exporter", Scratch, false),
        (DockerHub, "hashicorp/vault", Alpine, false),
        (DockerHub, "hashicorp/consul", Alpine, false),
        (DockerHub, "hashicorp/terraform", Alpine, false),
        (DockerHub, "confluentinc/cp-kafka", Ubuntu, false),
        (DockerHub, "curlimages/curl", Alpine, false),
        (DockerHub, "jenkins/jenkins", Debian, true),
        (DockerHub, "localstack/localstack", Debian, false),
        (DockerHub, "fluent/fluent-bit", Distroless, false),
        (DockerHub, "timberio/vector", Debian, true),
        (DockerHub, "datadog/agent", Ubuntu, false),
        (DockerHub, "openpolicyagent/opa", Distroless, false),
        (Quay, "prometheus/prometheus", Scratch, false),
        (Quay, "prometheus/node-exporter", Scratch, false),
        (Quay, "jetstack/cert-manager-controller", Distroless, false),
        (Quay, "jetstack/cert-manager-webhook", Distroless, false),
        (Quay, "keycloak/keycloak", Ubuntu, false),
        (Quay, "argoproj/argocd", Ubuntu, false),
        (Quay, "calico/node", Ubuntu, false),
        (Quay, "cilium/cilium", Ubuntu, false),
        (Quay, "cilium/operator-generic", Distroless, false),
        (Quay, "strimzi/kafka", Ubuntu, false),
        (Quay, "oauth2-proxy/oauth2-proxy", Distroless, false),
        (Quay, "thanos/thanos", Scratch, false),
        (Quay, "minio/minio", Scratch, false),
        (Quay, "coreos/etcd", Distroless, false),
        (Quay, "kiwigrid/k8s-sidecar", Alpine, false),
        (Gcr, "distroless/static", Distroless, false),
        (Gcr, "distroless/base", Distroless, false),
        (Gcr, "distroless/java17-debian12", Distroless, false),
        (Gcr, "kaniko-project/executor", Scratch, false),
        (Gcr, "cloudsql-docker/gce-proxy", Distroless, false),
        (Gcr, "google-containers/pause", Scratch, false),
        (Gcr, "cadvisor/cadvisor", Alpine, false),
        (Gcr, "google-samples/hello-app", Alpine, false),
        (PublicEcr, "docker/library/nginx", Debian, true),
        (PublicEcr, "docker/library/redis", Debian, true),
        (PublicEcr, "docker/library/python", Debian, true),
        (PublicEcr, "eks-distro/kubernetes/pause", Scratch, false),
        (PublicEcr, "karpenter/controller", Distroless, false),
        (
            PublicEcr,
            "aws-observability/aws-for-fluent-bit",
            Debian,
            false,
        ),
        (PublicEcr, "aws-cli/aws-cli", Ubuntu, false),
        (PublicEcr, "lambda/python", Ubuntu, false),
        (PublicEcr, "bitnami/kubectl", Debian, false),
        (
            PublicEcr,
            "aws-ec2/aws-node-termination-handler",
            Scratch,
            false,
        ),
        (Ghcr, "fluxcd/source-controller", Alpine, false),
        (Ghcr, "fluxcd/kustomize-controller", Alpine, false),
        (Ghcr, "fluxcd/helm-controller", Alpine, false),
        (Ghcr, "external-secrets/external-secrets", Distroless, false),
        (Ghcr, "aquasecurity/trivy", Alpine, false),
        (
            Ghcr,
            "open-telemetry/opentelemetry-collector-releases/opentelemetry-collector-contrib",
            Scratch,
            false,
        ),
        (Ghcr, "dexidp/dex", Alpine, false),
        (Ghcr, "stakater/reloader", Distroless, false),
        (Ghcr, "cloudnative-pg/postgresql", Debian, false),
        (Ghcr, "actions/actions-runner", Ubuntu, false),
        (Ghcr, "renovatebot/renovate", Ubuntu, false),
    ]
};

/// The organisation's own namespace on each public registry (the public ECR alias is drawn).
pub(crate) fn own_namespace(registry: Registry) -> Option<&'static str> {
    match registry {
        Registry::DockerHub => Some("acmecorp"),
        Registry::Ghcr => Some("acme-corp"),
        Registry::Quay => Some("acme"),
        Registry::Gcr => Some("acme-prod-274115"),
        Registry::PublicEcr | Registry::Internal | Registry::PrivateEcr => None,
    }
}

pub(crate) const TEAMS: [&str; 30] = [
    "payments",
    "checkout",
    "billing",
    "identity",
    "search",
    "catalog",
    "growth",
    "platform",
    "sre",
    "data",
    "ml",
    "mobile-backend",
    "notifications",
    "fraud",
    "ledger",
    "logistics",
    "pricing",
    "marketing",
    "analytics",
    "security",
    "infra",
    "observability",
    "web",
    "api-platform",
    "core",
    "partners",
    "support-tools",
    "reporting",
    "inventory",
    "onboarding",
];

/// What the organisation's services are about; a service is `<domain>-<role>`.
pub(crate) const DOMAINS: [&str; 48] = [
    "account",
    "auth",
    "cart",
    "order",
    "invoice",
    "ledger",
    "wallet",
    "refund",
    "payout",
    "card",
    "fraud",
    "risk",
    "kyc",
    "profile",
    "session",
    "search",
    "catalog",
    "product",
    "pricing",
    "promo",
    "coupon",
    "review",
    "rating",
    "shipping",
    "tracking",
    "warehouse",
    "stock",
    "vendor",
    "partner",
    "email",
    "sms",
    "push",
    "webhook",
    "feed",
    "report",
    "export",
    "audit",
    "billing",
    "usage",
    "quota",
    "feature-flag",
    "config",
    "geo",
    "media",
    "thumbnail",
    "recommend",
    "ranking",
    "chat",
];

pub(crate) const ROLES: [&str; 16] = [
    "api",
    "worker",
    "web",
    "gateway",
    "consumer",
    "scheduler",
    "migrations",
    "cron",
    "frontend",
    "backend",
    "sync",
    "exporter",
    "proxy",
    "indexer",
    "notifier",
    "admin",
];

/// Environments, weighted, each with the clusters it runs in.
pub(crate) const ENVIRONMENTS: [((&str, &[&str]), u32); 3] = [
    (
        (
            "prod",
            &["prod-us-east-1", "prod-eu-west-1", "prod-ap-southeast-2"],
        ),
        40,
    ),
    (("staging", &["staging-us-east-1", "staging-eu-west-1"]), 25),
    (("dev", &["dev-shared", "dev-us-east-1"]), 35),
];

pub(crate) const BRANCHES: [&str; 4] = ["main", "develop", "staging", "release"];
