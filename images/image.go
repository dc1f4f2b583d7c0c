// Package images builds the project's container images on this machine, with
// no registry: every image is FROM scratch, holding exactly the files it
// needs — the static dsbridge binary, or a program from Debian's packages (or
// the project's own Ollama build) together with the shared libraries and the
// loader that ldd names. An image is tagged with the hash of its contents,
// so a second build of unchanged inputs costs one hash and one lookup.
//
//	Image{Files, Entrypoint} ──hash──▶ dsbridge/NAME:HASH exists? ──yes──▶ reuse
//	                                          │ no
//	                                          ▼
//	      tar(Dockerfile "FROM scratch; COPY rootfs/ /", rootfs/…) ──▶ docker build
package images

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
)

// Repo is the repository prefix of every image the project builds; Label
// marks them, so that they can be listed and removed as a group.
const (
	Repo        = "dsbridge/"
	Label       = "dsbridge.image"
	LabelHash   = "dsbridge.image.hash"
	hashLen     = 16
	defaultMode = 0o755
)

// File is one file of an image: copied from Src on the host, or Data when
// Src is empty. Dir makes an empty directory (writable scratch space).
type File struct {
	Dst  string // absolute path inside the image
	Src  string
	Data []byte
	Mode fs.FileMode // 0: 0755 for Src files and dirs, 0644 for Data
	Dir  bool
}

// Image is what goes into one image.
type Image struct {
	Name       string // dsbridge, ollama, nginx, prometheus, redis
	Files      []File
	Entrypoint []string
	Cmd        []string
	Env        []string
	// Bake, when set, adds generated files to the root filesystem at build
	// time only (the Ollama image's model store). Its output must follow
	// from Files and BakeKey, which the hash covers instead.
	Bake    func(rootfs string) error
	BakeKey string
}

// Ref is the image's content-addressed reference, dsbridge/NAME:HASH.
func (im *Image) Ref() (string, error) {
	h, err := im.Hash()
	if err != nil {
		return "", err
	}
	return Repo + im.Name + ":" + h, nil
}

// Latest is the moving tag the cluster starts: dsbridge/NAME:latest.
func (im *Image) Latest() string { return Repo + im.Name + ":latest" }

// Hash covers everything that ends up in the image: the Dockerfile, every
// file's path, mode and bytes, and the bake key.
func (im *Image) Hash() (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", im.Dockerfile(), im.BakeKey)
	files := append([]File(nil), im.Files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Dst < files[j].Dst })
	for _, f := range files {
		fmt.Fprintf(h, "%s %o %t\n", f.Dst, f.mode(), f.Dir)
		switch {
		case f.Dir:
		case f.Src == "":
			h.Write(f.Data)
		default:
			r, err := os.Open(f.Src)
			if err != nil {
				return "", fmt.Errorf("image %s: %w", im.Name, err)
			}
			_, err = io.Copy(h, r)
			r.Close()
			if err != nil {
				return "", fmt.Errorf("image %s: %w", im.Name, err)
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:hashLen], nil
}

// Dockerfile is the image's whole recipe: the root filesystem copied onto
// scratch, so no base image is ever pulled.
func (im *Image) Dockerfile() string {
	var b strings.Builder
	b.WriteString("FROM scratch\nCOPY rootfs/ /\n")
	for _, e := range im.Env {
		k, v, _ := strings.Cut(e, "=")
		fmt.Fprintf(&b, "ENV %s=%s\n", k, jsonString(v))
	}
	if len(im.Entrypoint) > 0 {
		fmt.Fprintf(&b, "ENTRYPOINT %s\n", jsonList(im.Entrypoint))
	}
	if len(im.Cmd) > 0 {
		fmt.Fprintf(&b, "CMD %s\n", jsonList(im.Cmd))
	}
	return b.String()
}

func (f File) mode() fs.FileMode {
	switch {
	case f.Mode != 0:
		return f.Mode
	case f.Src == "" && !f.Dir:
		return 0o644
	}
	return defaultMode
}

func jsonList(s []string) string { b, _ := json.Marshal(s); return string(b) }
func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }
