package images

import (
	"fmt"
	"os"
	"os/exec"
)

// The images the project builds. Each is a function of the files it takes
// from this machine, so that its hash changes exactly when they do.

// passwd and group give nginx the users it looks up (nobody/nogroup) in an
// image that has no /etc of its own.
var (
	etcPasswd = File{Dst: "/etc/passwd", Data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n")}
	etcGroup  = File{Dst: "/etc/group", Data: []byte("root:x:0:\nnogroup:x:65534:\n")}
	tmpDir    = File{Dst: "/tmp", Dir: true, Mode: 0o1777}
)

// DSBridge is the static dsbridge binary alone: it runs serve, sim, load or
// bench by its command line (`docker run dsbridge/dsbridge sim --listen :11434`).
func DSBridge(bin string) (*Image, error) {
	libs, err := sharedLibraries(bin)
	if err != nil {
		return nil, err
	}
	if len(libs) > 0 {
		return nil, fmt.Errorf("%s is not static (build it with CGO_ENABLED=0, as `make build` does)", bin)
	}
	return &Image{Name: "dsbridge", Files: []File{{Src: bin, Dst: "/dsbridge"}, tmpDir}, Entrypoint: []string{"/dsbridge"}}, nil
}

// Nginx is Debian's nginx (nginx-light). The cluster and the Compose stack
// mount or copy their own /etc/nginx/nginx.conf; the one here only answers
// /nginx-ready, so that the image runs on its own.
func Nginx() (*Image, error) {
	bin, err := debianBinary("nginx", "/usr/sbin/nginx", "nginx-light")
	if err != nil {
		return nil, err
	}
	files, err := WithLibraries(bin, "/usr/sbin/nginx")
	if err != nil {
		return nil, err
	}
	files = append(files, etcPasswd, etcGroup, tmpDir,
		File{Dst: "/var/log/nginx", Dir: true}, File{Dst: "/var/lib/nginx", Dir: true}, File{Dst: "/run", Dir: true},
		File{Dst: "/etc/nginx/nginx.conf", Data: []byte(defaultNginxConf)})
	return &Image{Name: "nginx", Files: files, Entrypoint: []string{"/usr/sbin/nginx", "-e", "stderr"}, Cmd: []string{"-c", "/etc/nginx/nginx.conf"}}, nil
}

const defaultNginxConf = `daemon off;
pid /run/nginx.pid;
events {}
http {
  access_log off;
  server { listen 80; location = /nginx-ready { return 200 "ok\n"; } }
}
`

// Prometheus is Debian's prometheus with an empty default config; the
// cluster and the Compose stack supply theirs (and dsbridge's rules).
func Prometheus() (*Image, error) {
	bin, err := debianBinary("prometheus", "/usr/bin/prometheus", "prometheus")
	if err != nil {
		return nil, err
	}
	files, err := WithLibraries(bin, "/bin/prometheus")
	if err != nil {
		return nil, err
	}
	files = append(files, tmpDir, File{Dst: "/prometheus", Dir: true},
		File{Dst: "/etc/prometheus/prometheus.yml", Data: []byte("global: {scrape_interval: 15s}\n")})
	return &Image{Name: "prometheus", Files: files, Entrypoint: []string{"/bin/prometheus"},
		Cmd: []string{"--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", "--web.listen-address=:9090"}}, nil
}

// Redis is Debian's redis-server, in memory only (no snapshots).
func Redis() (*Image, error) {
	bin, err := debianBinary("redis-server", "/usr/bin/redis-server", "redis-server")
	if err != nil {
		return nil, err
	}
	files, err := WithLibraries(bin, "/usr/bin/redis-server")
	if err != nil {
		return nil, err
	}
	files = append(files, tmpDir, File{Dst: "/data", Dir: true})
	return &Image{Name: "redis", Files: files, Entrypoint: []string{"/usr/bin/redis-server"},
		Cmd: []string{"--protected-mode", "no", "--save", "", "--appendonly", "no", "--dir", "/data"}}, nil
}

// debianBinary finds a program from a Debian package, or says which
// package to install.
func debianBinary(name, path, pkg string) (string, error) {
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found (apt-get install %s)", name, pkg)
}
