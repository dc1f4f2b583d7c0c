// Package helperproc lets a test binary act as a small real server process:
// a test's TestMain calls Main first, and when the environment asks for it the
// binary serves HTTP instead of running tests. Chaos and supervisor tests
// start it with os.Args[0] to have a real process to kill, freeze and restart
// without depending on the simulator. Tests import it; production code never
// does.
package helperproc

import (
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

// EnvListen names the variable that turns the test binary into the server.
const EnvListen = "DSBRIDGE_HELPER_LISTEN"

// Main serves HTTP on $DSBRIDGE_HELPER_LISTEN and exits when it is set; it
// returns at once otherwise. GET / answers 200 with the pid, so a test can
// see a restart; SIGTERM exits 0 after printing "drained".
func Main() {
	addr := os.Getenv(EnvListen)
	if addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strconv.Itoa(os.Getpid()))
	})
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	go func() {
		<-term
		fmt.Println("drained")
		os.Exit(0)
	}()
	if err := http.ListenAndServe(addr, mux); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
}
