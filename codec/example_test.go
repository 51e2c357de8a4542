package codec_test

import (
	"errors"
	"fmt"

	"github.com/realtimekit/realtime/codec"
)

func ExampleJSON() {
	var c codec.JSON // the zero value uses DefaultMaxSize
	msg, err := c.Encode(nil, codec.Frame{Type: codec.TypePublish, Seq: 7, Channel: "chat", Data: []byte("hello")})
	if err != nil {
		panic(err)
	}
	fmt.Println(string(msg))

	frames, err := c.Decode(nil, []byte(`[{"t":"ack","a":42},{"t":"msg","s":3,"c":"chat","b":"AP8="}]`))
	if err != nil {
		panic(err)
	}
	for _, f := range frames {
		fmt.Printf("%s seq=%d ack=%d channel=%q data=%x\n", f.Type, f.Seq, f.Ack, f.Channel, f.Data)
	}
	// Output:
	// {"t":"pub","s":7,"c":"chat","d":"hello"}
	// ack seq=0 ack=42 channel="" data=
	// msg seq=3 ack=0 channel="chat" data=00ff
}

func ExampleCBOR() {
	var c codec.CBOR
	msg, err := c.Encode(nil, codec.Frame{Type: codec.TypePublish, Seq: 7, Channel: "chat", Data: []byte{0x00, 0xff}})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%x\n", msg)

	frames, err := c.Decode(nil, msg)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s seq=%d channel=%q data=%x\n", frames[0].Type, frames[0].Seq, frames[0].Channel, frames[0].Data)
	// Output:
	// a46174637075626173076163646368617461644200ff
	// pub seq=7 channel="chat" data=00ff
}

func ExampleSizeError() {
	c := codec.JSON{MaxSize: 16}
	_, err := c.Decode(nil, []byte(`{"t":"pub","s":1,"c":"chat"}`))
	var se *codec.SizeError
	if errors.As(err, &se) {
		fmt.Println(se.Size, se.Limit)
	}
	// Output:
	// 28 16
}
