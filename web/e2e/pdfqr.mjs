// The QR code of a statement PDF, read as a phone reads it: the PDF's image
// XObjects (statement/pdf.go embeds the QR code as a grey-scale PNG, which
// fpdf stores as a FlateDecode stream with PNG predictors) are decoded to
// pixels and jsQR looks for a QR code in them. Nothing here trusts the PDF's
// link annotation: the URL comes from the pixels alone.
import { inflateSync } from 'node:zlib'
import jsQR from 'jsqr'

/** pdfImages returns the PDF's 8-bit grey or RGB FlateDecode images as RGBA pixels. */
export function pdfImages(pdf) {
  const text = pdf.toString('latin1') // one character a byte: string offsets are byte offsets
  const images = []
  const re = /\/Subtype\s*\/Image\b/g
  for (let m; (m = re.exec(text)); ) {
    const start = text.lastIndexOf(' obj', m.index)
    const streamAt = text.indexOf('stream', m.index)
    if (start < 0 || streamAt < 0) throw new Error('an image XObject without its stream')
    const dict = text.slice(start, streamAt)
    const int = (name) => {
      const v = new RegExp(`/${name}\\s+(\\d+)(?!\\s+\\d+\\s+R)`).exec(dict)
      return v ? Number(v[1]) : undefined
    }
    const width = int('Width')
    const height = int('Height')
    const length = int('Length')
    const bits = int('BitsPerComponent')
    const space = /\/ColorSpace\s*\/(\w+)/.exec(dict)?.[1]
    const filter = /\/Filter\s*\/(\w+)/.exec(dict)?.[1]
    const colors = { DeviceGray: 1, DeviceRGB: 3 }[space]
    if (!width || !height || length === undefined || bits !== 8 || !colors || filter !== 'FlateDecode') continue
    let at = streamAt + 'stream'.length
    if (text[at] === '\r') at++
    if (text[at] === '\n') at++
    let data = inflateSync(pdf.subarray(at, at + length))
    if ((int('Predictor') ?? 1) >= 10) data = unpredict(data, width, height, colors)
    if (data.length < width * height * colors) throw new Error(`image of ${width}×${height}: ${data.length} bytes`)
    const rgba = new Uint8ClampedArray(width * height * 4)
    for (let i = 0; i < width * height; i++) {
      const p = i * colors
      rgba[i * 4] = data[p]
      rgba[i * 4 + 1] = data[colors === 3 ? p + 1 : p]
      rgba[i * 4 + 2] = data[colors === 3 ? p + 2 : p]
      rgba[i * 4 + 3] = 255
    }
    images.push({ width, height, rgba })
  }
  return images
}

// unpredict undoes PNG row filters (a filter byte before each row; PDF
// predictors 10–15), one byte a sample.
function unpredict(data, width, height, bpp) {
  const stride = width * bpp
  const out = Buffer.alloc(stride * height)
  for (let y = 0; y < height; y++) {
    const f = data[y * (stride + 1)]
    const row = data.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1))
    const o = y * stride
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? out[o + x - bpp] : 0
      const b = y > 0 ? out[o - stride + x] : 0
      const c = x >= bpp && y > 0 ? out[o - stride + x - bpp] : 0
      let v = row[x]
      if (f === 1) v += a
      else if (f === 2) v += b
      else if (f === 3) v += (a + b) >> 1
      else if (f === 4) {
        const p = a + b - c
        const pa = Math.abs(p - a)
        const pb = Math.abs(p - b)
        const pc = Math.abs(p - c)
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c
      } else if (f !== 0) throw new Error(`PNG row filter ${f}`)
      out[o + x] = v & 0xff
    }
  }
  return out
}

/** pdfQR returns the text of the QR code in the PDF's images; it throws when there is none. */
export function pdfQR(pdf) {
  const images = pdfImages(pdf)
  for (const im of images) {
    const code = jsQR(im.rgba, im.width, im.height)
    if (code) return code.data
  }
  throw new Error(`no QR code in the PDF's ${images.length} image(s)`)
}
