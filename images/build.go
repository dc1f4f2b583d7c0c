package images

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// Builder builds images through a Docker engine.
type Builder struct {
	Docker *client.Client
	// Log receives one line per image (nil: none).
	Log io.Writer
}

// NewDockerClient connects to the engine from the environment (DOCKER_HOST
// or the local socket) and negotiates the API version: the engine here is
// 20.10 (API 1.41), older than the client library's default.
func NewDockerClient() (*client.Client, error) {
	return client.New(client.FromEnv, client.WithAPIVersionNegotiation())
}

// Ensure makes sure im exists as dsbridge/NAME:HASH and dsbridge/NAME:latest
// points at it, building it only when no image with that hash exists. It
// returns the content-addressed reference and whether it built.
func (b *Builder) Ensure(ctx context.Context, im *Image) (ref string, built bool, err error) {
	ref, err = im.Ref()
	if err != nil {
		return "", false, err
	}
	if _, err := b.Docker.ImageInspect(ctx, ref); err == nil {
		b.logf("image %s: up to date", ref)
		return ref, false, b.tag(ctx, ref, im.Latest())
	}
	b.logf("image %s: building", ref)
	if err := b.build(ctx, im, ref); err != nil {
		return "", false, fmt.Errorf("build %s: %w", ref, err)
	}
	if err := b.tag(ctx, ref, im.Latest()); err != nil {
		return "", false, err
	}
	b.pruneOlder(ctx, im.Name, ref)
	return ref, true, nil
}

// pruneOlder removes the earlier builds of the same image, so that a new
// dsbridge binary per commit does not pile up images. One still used by a
// container stays (no force), and so does one built in the last hour (a
// test binary of another package may be about to start it); failures only
// cost disk.
func (b *Builder) pruneOlder(ctx context.Context, name, keep string) {
	res, err := b.Docker.ImageList(ctx, client.ImageListOptions{Filters: client.Filters{}.Add("label", Label+"="+name)})
	if err != nil {
		return
	}
	for _, img := range res.Items {
		if slices.Contains(img.RepoTags, keep) || time.Since(time.Unix(img.Created, 0)) < time.Hour {
			continue
		}
		for _, tag := range img.RepoTags {
			if _, err := b.Docker.ImageRemove(ctx, tag, client.ImageRemoveOptions{PruneChildren: true}); err == nil {
				b.logf("image %s: removed (superseded by %s)", tag, keep)
			}
		}
	}
}

func (b *Builder) tag(ctx context.Context, src, dst string) error {
	_, err := b.Docker.ImageTag(ctx, client.ImageTagOptions{Source: src, Target: dst})
	return err
}

func (b *Builder) logf(format string, a ...any) {
	if b.Log != nil {
		fmt.Fprintf(b.Log, format+"\n", a...)
	}
}

// build writes the root filesystem into a temporary folder (Bake needs a
// real one), streams it as the build context and reads the engine's
// progress stream for errors.
func (b *Builder) build(ctx context.Context, im *Image, ref string) error {
	dir, err := os.MkdirTemp("", "dsbridge-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	rootfs := filepath.Join(dir, "rootfs")
	for _, f := range im.Files {
		if err := place(rootfs, f); err != nil {
			return err
		}
	}
	if im.Bake != nil {
		if err := im.Bake(rootfs); err != nil {
			return fmt.Errorf("bake: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(im.Dockerfile()), 0o644); err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarDir(pw, dir)) }()
	hash := ref[strings.LastIndexByte(ref, ':')+1:]
	res, err := b.Docker.ImageBuild(ctx, pr, client.ImageBuildOptions{
		Tags: []string{ref}, Remove: true, ForceRemove: true,
		Labels: map[string]string{Label: im.Name, LabelHash: hash},
	})
	if err != nil {
		pr.CloseWithError(err)
		return err
	}
	defer res.Body.Close()
	return readBuildStream(res.Body)
}

// place copies one File into the root filesystem folder.
func place(rootfs string, f File) error {
	dst := filepath.Join(rootfs, filepath.FromSlash(f.Dst))
	if f.Dir {
		return os.MkdirAll(dst, f.mode())
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if f.Src == "" {
		return os.WriteFile(dst, f.Data, f.mode())
	}
	in, err := os.Open(f.Src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, f.mode())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// tarDir writes the folder as a tar stream, the build context's format.
func tarDir(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "root", "root"
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// readBuildStream drains the engine's JSON progress lines and returns the
// first error one reports.
func readBuildStream(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var msg struct {
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if msg.Error != "" {
			return errors.New(msg.Error)
		}
	}
}
