package patch

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// MaxInstructions bounds the instructions of one semantic patch.
const MaxInstructions = 100

// maxComment bounds a change comment, in characters.
const maxComment = 1024

// Semantic is LaunchDarkly's semantic patch request: instructions that
// state intent ("add these members") rather than a diff, and an optional
// comment.
type Semantic struct {
	Comment      string
	Instructions []Instruction
}

// Instruction is one instruction of a semantic patch.
type Instruction struct {
	// Field is where the instruction is in the request, for messages:
	// instructions[2].
	Field string
	Kind  string
	Raw   json.RawMessage
}

// Decode decodes the instruction strictly into v (a struct with a kind
// field and the instruction's parameters); problems name the instruction.
func (in Instruction) Decode(v any) error {
	if err := DecodeStrict(in.Raw, v); err != nil {
		return invalid("%s (%s): %s", in.Field, in.Kind, err.Error())
	}
	return nil
}

// ParseSemantic reads a semantic patch body and checks the envelope: at
// least one and at most MaxInstructions instructions, each an object with a
// kind, and a bounded comment.
func ParseSemantic(body []byte) (*Semantic, error) {
	var env struct {
		Comment      string            `json:"comment"`
		Instructions []json.RawMessage `json:"instructions"`
	}
	if err := DecodeStrict(body, &env); err != nil {
		return nil, err
	}
	switch {
	case env.Instructions == nil:
		return nil, invalid("instructions is required")
	case len(env.Instructions) == 0:
		return nil, invalid("instructions must list at least one instruction")
	case len(env.Instructions) > MaxInstructions:
		return nil, invalid("instructions must list at most %d instructions", MaxInstructions)
	case utf8.RuneCountInString(env.Comment) > maxComment:
		return nil, invalid("comment must be at most %d characters", maxComment)
	}
	s := &Semantic{Comment: env.Comment}
	for i, raw := range env.Instructions {
		field := fmt.Sprintf("instructions[%d]", i)
		var head map[string]json.RawMessage
		if err := json.Unmarshal(raw, &head); err != nil || head == nil {
			return nil, invalid("%s must be an object", field)
		}
		var kind string
		if k, ok := head["kind"]; !ok || json.Unmarshal(k, &kind) != nil || kind == "" {
			return nil, invalid("%s.kind is required and must be a string", field)
		}
		s.Instructions = append(s.Instructions, Instruction{Field: field, Kind: kind, Raw: raw})
	}
	return s, nil
}

// Delta returns the instructions as the JSON array they came in, for the
// audit log.
func (s *Semantic) Delta() json.RawMessage {
	raws := make([]json.RawMessage, len(s.Instructions))
	for i, in := range s.Instructions {
		raws[i] = in.Raw
	}
	b, _ := json.Marshal(raws)
	return b
}
