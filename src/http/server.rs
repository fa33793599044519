//! The listener: HTTP/1.1 (and h2c) connections served by hyper with
//! explicit limits: a cap on open connections (one over the cap gets a
//! clean 503 and is closed), a deadline for the request head (slow clients
//! cannot hold a connection open by trickling headers), and a graceful stop
//! that lets requests in flight finish within a grace period.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::error::{ApiError, ErrorCode};
use crate::app::{App, StartError};

/// Largest request head (request line and headers) read, in bytes.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Pause after a failed accept (e.g. out of file descriptors), so the loop
/// does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Listens on `listen` and serves until SIGINT/SIGTERM, then lets the
/// requests in flight finish (up to `shutdown_grace_ms`).
pub async fn serve(app: Arc<App>, listen: SocketAddr) -> Result<(), StartError> {
    // Signal handlers are installed before the address is announced, so a
    // signal sent right after start-up is never missed.
    let shutdown = super::shutdown_signal().map_err(StartError::Serve)?;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: listen,
            source,
        })?;
    let local = listener.local_addr().map_err(|source| StartError::Bind {
        addr: listen,
        source,
    })?;
    tracing::info!(address = %local, "listening");
    // A plain line on stdout, for scripts and tests that start the binary on port 0.
    println!("tenantgate listening on http://{local}");

    let settings = &app.settings;
    let head_timeout = Duration::from_millis(settings.header_read_timeout_ms);
    let grace = Duration::from_millis(settings.shutdown_grace_ms);
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    let service = TowerToHyperService::new(super::router(app.clone()));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(head_timeout)
        .max_buf_size(MAX_HEAD_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(Some(100))
        .max_header_list_size(MAX_HEAD_BYTES as u32);

    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let io = TokioIo::new(stream);
        match slots.clone().try_acquire_owned() {
            Ok(permit) => {
                let conn = builder
                    .serve_connection_with_upgrades(io, service.clone())
                    .into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    // Errors here are the client's (reset, bad request head).
                    let _ = conn.await;
                    drop(permit);
                });
            }
            Err(_) => {
                crate::metrics::connection_refused();
                tokio::spawn(refuse(io, head_timeout));
            }
        }
    }
    // Stop accepting; let the requests in flight finish.
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(grace) => {
            tracing::warn!(grace_ms = grace.as_millis(), "requests still running after the grace period; stopping anyway");
        }
    }
    Ok(())
}

/// Answers one request on a connection over the cap with 503 and closes it.
async fn refuse(io: TokioIo<tokio::net::TcpStream>, head_timeout: Duration) {
    let service = hyper::service::service_fn(|_req| async {
        let mut response = ApiError::new(
            ErrorCode::Unavailable,
            "too many open connections; retry later",
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        Ok::<_, Infallible>(response)
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(head_timeout)
        .keep_alive(false);
    let _ = tokio::time::timeout(head_timeout * 2, http.serve_connection(io, service)).await;
}
