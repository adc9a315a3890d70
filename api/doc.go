// Package api is Greenmint's HTTP adapter on gin: routes, handlers,
// RFC 9457 problem+json errors mapped from the domain's error codes in one
// table, JWT authentication and Prometheus metrics. The oracle's service
// (readings ingestion, health, metrics) lives here; the REST gateway joins it.
package api
