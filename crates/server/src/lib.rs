//! The HTTP server of imagedex: the Datadog-compatible `GET /api/v2/container_images`, its
//! authentication, its error envelope, the in-memory catalog that answers it, and the routes
//! collectors post to (uploads and the Datadog Agent's intake).

mod auth;
pub mod catalog;
mod error;
mod images;
mod intake;
mod links;
mod upload;

use axum::extract::DefaultBodyLimit;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use imagedex_store::Store;
use std::sync::Arc;
use std::time::Instant;

pub use catalog::Catalog;
pub use error::ApiError;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub catalog: Arc<Catalog>,
    /// The base of absolute links (`https://images.example.com`); the request's Host otherwise.
    pub public_url: Option<String>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, public_url: Option<String>) -> Self {
        let catalog = Arc::new(Catalog::new(store.clone()));
        let public_url = public_url.map(|u| u.trim_end_matches('/').to_string());
        AppState {
            store,
            catalog,
            public_url,
        }
    }
}

/// The application's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/api/v2/container_images",
            get(images::list_container_images),
        )
        .route("/api/v2/contimage", post(intake::post_contimage))
        .route("/api/imagedex/v1/reports", post(upload::upload_report))
        .route("/api/imagedex/v1/images", post(upload::push_images))
        .layer(DefaultBodyLimit::max(upload::MAX_UPLOAD_BYTES))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

/// Serves the application on a bound listener until Ctrl-C or SIGTERM.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// One log line per request. Headers are never logged: they carry the keys.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    tracing::info!(
        http.method = %method,
        http.path = %path,
        http.status = response.status().as_u16(),
        duration_ms = (started.elapsed().as_secs_f64() * 1e6).round() / 1e3,
        "request"
    );
    response
}
