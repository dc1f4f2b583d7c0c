// Package containers holds the tests of the Docker runtime: bench scenarios
// run with --runtime docker (failover, partition, rolling restart behind
// nginx), an OOM-killed real Ollama container leaving and rejoining the
// bridge's rotation, Prometheus in the cluster scraping every member, and
// the check that nothing of the project's is left behind (TestMain).
//
// They need a Docker engine and the tools the images are made from
// (nginx-light, prometheus, and `make ollama`): without them they skip on a
// developer's machine and fail where DSBRIDGE_REQUIRE_TOOLS is set (CI).
package containers
