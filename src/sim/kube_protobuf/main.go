// Command kube-protobuf decodes Kubernetes protobuf request bodies (application/vnd.kubernetes.protobuf: the
// "k8s\x00" envelope around a runtime.Unknown) into JSON with the real k8s.io/api types, for the lab's API
// server, which speaks JSON. It serves frames on stdin/stdout: a request is a 4-byte big-endian length and the
// protobuf body; the answer is a status byte (0 ok, 1 error), a 4-byte length and the JSON object or the
// error text.
package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"
)

const maxBody = 3 << 20 // the API server's request body limit

func main() {
	in := bufio.NewReader(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	pb := protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)
	js := json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme.Scheme, scheme.Scheme, json.SerializerOptions{})
	for {
		var n uint32
		if err := binary.Read(in, binary.BigEndian, &n); err != nil {
			if err == io.EOF {
				return
			}
			fatal(err)
		}
		if n > maxBody {
			fatal(fmt.Errorf("frame of %d bytes is over %d", n, maxBody))
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(in, body); err != nil {
			fatal(err)
		}
		answer, err := convert(pb, js, body)
		status := byte(0)
		if err != nil {
			status, answer = 1, []byte(err.Error())
		}
		if err := out.WriteByte(status); err != nil {
			fatal(err)
		}
		if err := binary.Write(out, binary.BigEndian, uint32(len(answer))); err != nil {
			fatal(err)
		}
		if _, err := out.Write(answer); err != nil {
			fatal(err)
		}
		if err := out.Flush(); err != nil {
			fatal(err)
		}
	}
}

// convert decodes one protobuf body into its typed object and encodes that as JSON (with apiVersion/kind).
func convert(pb *protobuf.Serializer, js *json.Serializer, body []byte) ([]byte, error) {
	obj, gvk, err := pb.Decode(body, nil, nil)
	if err != nil {
		return nil, err
	}
	obj.GetObjectKind().SetGroupVersionKind(*gvk)
	return runtime.Encode(js, obj)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "kube-protobuf:", err)
	os.Exit(1)
}
