package k8s

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

// TestManifests renders every kustomization, validates it strictly with
// kubeconform, then applies it to a real API server: a server-side dry run
// with strict field validation and a real create must both pass. Broken
// copies — an unknown field, a selector that does not match the pod
// labels, an HPA whose minimum is above its maximum — must be rejected.
func TestManifests(t *testing.T) {
	tools := toolsDir(t)
	etcdBin(t)
	rendered := map[string][]*unstructured.Unstructured{}
	for _, k := range kustomizations {
		objs, y := render(t, k)
		rendered[k] = objs
		t.Run("kubeconform/"+k, func(t *testing.T) {
			if out, err := kubeconform(t, tools, y); err != nil {
				t.Fatalf("kubeconform rejects deploy/k8s/%s: %v\n%s", k, err, out)
			}
		})
	}

	// No schema for a kind is an error, never a skip.
	t.Run("kubeconform/unknown-kind", func(t *testing.T) {
		if out, err := kubeconform(t, tools, []byte("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")); err == nil {
			t.Errorf("kubeconform accepts a kind it has no schema for:\n%s", out)
		}
	})

	c := startCluster(t, tools)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, k := range kustomizations {
		t.Run("apiserver/"+k, func(t *testing.T) {
			for _, o := range rendered[k] {
				if err := c.create(ctx, o, true); err != nil {
					t.Fatalf("dry run of %s: %v", describe(o), err)
				}
				// Namespaced objects need their namespace to exist, even
				// for a dry run: the Namespace is created as it comes.
				if err := c.create(ctx, o, false); err != nil {
					t.Fatalf("create %s: %v", describe(o), err)
				}
				if err := c.get(ctx, o); err != nil {
					t.Fatalf("read back %s: %v", describe(o), err)
				}
			}
		})
	}

	find := func(kind string) *unstructured.Unstructured {
		for _, o := range rendered["base"] {
			if o.GetKind() == kind {
				c := o.DeepCopy()
				c.SetName(o.GetName() + "-broken")
				return c
			}
		}
		t.Fatalf("no %s in base", kind)
		return nil
	}
	broken := []struct {
		name        string
		obj         *unstructured.Unstructured
		schemaCatch bool // a JSON schema can express the mistake
		wantErr     string
	}{
		{"unknown field", func() *unstructured.Unstructured {
			d := find("Deployment")
			_ = unstructured.SetNestedField(d.Object, int64(3), "spec", "replica") // sic: replicas
			return d
		}(), true, `unknown field "spec.replica"`},
		{"selector does not match labels", func() *unstructured.Unstructured {
			d := find("Deployment")
			_ = unstructured.SetNestedStringMap(d.Object, map[string]string{"app.kubernetes.io/name": "other"},
				"spec", "selector", "matchLabels")
			return d
		}(), false, "selector` does not match template `labels`"},
		{"HPA min above max", func() *unstructured.Unstructured {
			h := find("HorizontalPodAutoscaler")
			_ = unstructured.SetNestedField(h.Object, int64(5), "spec", "minReplicas")
			_ = unstructured.SetNestedField(h.Object, int64(2), "spec", "maxReplicas")
			return h
		}(), false, "must be greater than or equal to `minReplicas`"},
	}
	for _, b := range broken {
		t.Run("broken/"+strings.ReplaceAll(b.name, " ", "-"), func(t *testing.T) {
			y, err := yaml.Marshal(b.obj.Object)
			if err != nil {
				t.Fatal(err)
			}
			out, err := kubeconform(t, tools, y)
			switch {
			case b.schemaCatch && err == nil:
				t.Errorf("kubeconform accepts it:\n%s", out)
			case !b.schemaCatch && err != nil:
				t.Errorf("kubeconform rejects it, though no schema can say this: %v\n%s", err, out)
			}
			for _, dry := range []bool{true, false} {
				err := c.create(ctx, b.obj, dry)
				if err == nil || !strings.Contains(err.Error(), b.wantErr) {
					t.Errorf("API server (dry run %v): error %v, want one with %q", dry, err, b.wantErr)
				}
			}
		})
	}
}

// kubeconform validates YAML documents strictly against the generated
// schemas: unknown fields are errors, and so is a kind with no schema.
func kubeconform(t *testing.T, tools string, docs []byte) (string, error) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "manifests.yaml")
	if err := os.WriteFile(f, docs, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(tools, "bin", "kubeconform"), "-strict", "-summary",
		"-schema-location", filepath.Join(tools, "schemas")+"/{{ .ResourceKind }}{{ .KindSuffix }}.json", f)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// create sends o to the API server: a dry run (nothing stored) or a real
// create, with strict field validation either way.
func (c *cluster) create(ctx context.Context, o *unstructured.Unstructured, dryRun bool) error {
	r, err := c.resource(o)
	if err != nil {
		return err
	}
	opts := metav1.CreateOptions{FieldValidation: "Strict"}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	_, err = r.Create(ctx, o, opts)
	return err
}

// get reads o back from the server.
func (c *cluster) get(ctx context.Context, o *unstructured.Unstructured) error {
	r, err := c.resource(o)
	if err == nil {
		_, err = r.Get(ctx, o.GetName(), metav1.GetOptions{})
	}
	return err
}

// resource maps o's kind to its API resource, as kubectl does.
func (c *cluster) resource(o *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := o.GroupVersionKind()
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, err
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return c.dyn.Resource(m.Resource).Namespace(o.GetNamespace()), nil
	}
	return c.dyn.Resource(m.Resource), nil
}

func describe(o *unstructured.Unstructured) string {
	return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
}
