package images

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dsbridge/dsbridge/internal/testproc"
)

func TestParseLdd(t *testing.T) {
	out := `	linux-vdso.so.1 (0x00007ffd)
	libm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f00)
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f01)
	/lib64/ld-linux-x86-64.so.2 (0x00007f02)
`
	got, err := parseLdd(out)
	if err != nil {
		t.Fatal(err)
	}
	// The vDSO has no file; the loader is listed by its path alone.
	want := []string{"/lib/x86_64-linux-gnu/libm.so.6", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q; want %q", got, want)
	}
	// A missing library would make a container that cannot start.
	if _, err := parseLdd("\tlibfoo.so.1 => not found\n"); err == nil {
		t.Error("a missing library was not an error")
	}
}

// The hash follows the contents: same bytes, same tag; one byte changed,
// another tag. That is what lets a second `make images` reuse everything.
func TestHashFollowsContents(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "prog")
	if err := os.WriteFile(p, []byte("one"), 0o755); err != nil {
		t.Fatal(err)
	}
	im := func() *Image {
		return &Image{Name: "x", Files: []File{{Src: p, Dst: "/prog"}}, Entrypoint: []string{"/prog"}}
	}
	h1, _ := im().Hash()
	h2, _ := im().Hash()
	if h1 != h2 || len(h1) != hashLen {
		t.Fatalf("unstable hash: %q %q", h1, h2)
	}
	if err := os.WriteFile(p, []byte("two"), 0o755); err != nil {
		t.Fatal(err)
	}
	if h3, _ := im().Hash(); h3 == h1 {
		t.Error("hash did not change with the file's contents")
	}
	other := im()
	other.Entrypoint = []string{"/prog", "-v"}
	if h4, _ := other.Hash(); h4 == h1 {
		t.Error("hash did not change with the entrypoint")
	}
	if df := im().Dockerfile(); !strings.HasPrefix(df, "FROM scratch\n") {
		t.Errorf("Dockerfile does not start FROM scratch:\n%s", df)
	}
}

// Against the engine: the dsbridge image builds, runs the binary, and a
// second Ensure reuses it.
func TestEnsureBuildsOnceAndRuns(t *testing.T) {
	if _, err := exec.Command("docker", "version").CombinedOutput(); err != nil {
		if os.Getenv("DSBRIDGE_REQUIRE_TOOLS") != "" {
			t.Fatalf("no Docker engine: %v", err)
		}
		t.Skipf("no Docker engine: %v", err)
	}
	docker, err := NewDockerClient()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	im, err := DSBridge(testproc.Binary(t))
	if err != nil {
		t.Fatal(err)
	}
	b := &Builder{Docker: docker}
	ref, _, err := b.Ensure(context.Background(), im)
	if err != nil {
		t.Fatal(err)
	}
	ref2, built, err := b.Ensure(context.Background(), im)
	if err != nil || built || ref2 != ref {
		t.Fatalf("second Ensure: ref %s built %v err %v; want %s reused", ref2, built, err, ref)
	}
	out, err := exec.Command("docker", "run", "--rm", "--label", "dsbridge.test=1", ref, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "dsbridge") {
		t.Fatalf("docker run %s version: %v\n%s", ref, err, out)
	}
}

// parseLdd reads another program's output: whatever it says, it returns
// absolute paths or an error, and never panics.
func FuzzParseLdd(f *testing.F) {
	f.Add("\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x1)\n\t/lib64/ld-linux-x86-64.so.2 (0x2)\n")
	f.Add("\tlinux-vdso.so.1 (0x00007ffd)\n")
	f.Add("\tlibfoo.so => not found\n")
	f.Add("statically linked\n=> \n (")
	f.Fuzz(func(t *testing.T, s string) {
		libs, err := parseLdd(s)
		if err != nil {
			return
		}
		for _, l := range libs {
			if !strings.HasPrefix(l, "/") {
				t.Fatalf("relative path %q from %q", l, s)
			}
		}
	})
}

// The Redis image (no test elsewhere uses it yet: the bridge has no cache)
// starts from scratch with its copied libraries and answers PING.
func TestRedisImageAnswersPing(t *testing.T) {
	if _, err := exec.Command("docker", "version").CombinedOutput(); err != nil {
		if os.Getenv("DSBRIDGE_REQUIRE_TOOLS") != "" {
			t.Fatalf("no Docker engine: %v", err)
		}
		t.Skipf("no Docker engine: %v", err)
	}
	im, err := Redis()
	if err != nil {
		if os.Getenv("DSBRIDGE_REQUIRE_TOOLS") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	docker, err := NewDockerClient()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	ref, _, err := (&Builder{Docker: docker}).Ensure(context.Background(), im)
	if err != nil {
		t.Fatal(err)
	}
	addr := testproc.FreeAddr(t)
	name := "dsbridge-redis-test-" + strconv.Itoa(os.Getpid())
	if out, err := exec.Command("docker", "run", "-d", "--rm", "--name", name, "--label", "dsbridge.test=1",
		"-p", addr+":6379", ref).CombinedOutput(); err != nil {
		t.Fatalf("docker run: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", name).Run() })
	var reply string
	testproc.Eventually(t, 20*time.Second, "+PONG from redis in its image", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write([]byte("PING\r\n")); err != nil {
			return false
		}
		b := make([]byte, 16)
		n, _ := c.Read(b)
		reply = string(b[:n])
		return strings.HasPrefix(reply, "+PONG")
	})
}
