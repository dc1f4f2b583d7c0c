package dashboards

// apiRoutes selects client traffic among the bridge's route label values:
// everything but its own probes, scrapes and admin calls. recording.yml uses
// the same selector (TestAPIRoutesSelectorShared keeps them equal).
const apiRoutes = `route!~"health|ready|metrics|pprof|admin_.*"`
