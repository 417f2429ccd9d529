#!/usr/bin/env python3
"""Makes the labelled test clip for face proposals (issue 8), with exact
labels by construction: ten 480x270 grey frames, each with five faces from
LFW ("Labeled Faces in the Wild", as scikit-image ships a 25x25 subset of
it in skimage/data/lfw_subset.npy: 100 faces, then 100 non-faces) and
five non-face patches from the same file, scaled to 44-72 px and placed
on a noisy grey background, drifting a little from frame to frame.

    pip download scikit-image --no-deps   # the wheel holds lfw_subset.npy
    python3 make-clip.py lfw_subset.npy    # writes clip.pgm and clip.json

Pure Python, no numpy: the .npy header is read by hand.
"""
import ast, json, random, struct, sys

def load(path):
    b = open(path, "rb").read()
    assert b[:6] == b"\x93NUMPY"
    n = struct.unpack("<H", b[8:10])[0]
    head = ast.literal_eval(b[10:10 + n].decode())
    assert head["descr"] == "<f8" and head["shape"] == (200, 25, 25)
    data = struct.unpack("<%dd" % (200 * 25 * 25), b[10 + n:])
    return [data[i * 625:(i + 1) * 625] for i in range(200)]

def scaled(img, size):
    out = []
    for y in range(size):
        fy = y * 24 / (size - 1)
        y0 = int(fy); y1 = min(y0 + 1, 24); ty = fy - y0
        for x in range(size):
            fx = x * 24 / (size - 1)
            x0 = int(fx); x1 = min(x0 + 1, 24); tx = fx - x0
            v = (img[y0 * 25 + x0] * (1 - tx) * (1 - ty) + img[y0 * 25 + x1] * tx * (1 - ty)
                 + img[y1 * 25 + x0] * (1 - tx) * ty + img[y1 * 25 + x1] * tx * ty)
            out.append(v)
    return out

W, H, FRAMES = 480, 270, 10
images = load(sys.argv[1])
rng = random.Random(8)
frames, labels = [], []
for f in range(FRAMES):
    px = [min(255, max(0, int(110 + 25 * ((x + 2 * y) % 97) / 97 + rng.gauss(0, 6)))) for y in range(H) for x in range(W)]
    faces = []
    # Ten cells of 96x135: five faces and five non-faces, shuffled per frame.
    cells = [(c % 5, c // 5) for c in range(10)]
    kinds = ["face"] * 5 + ["other"] * 5
    rng.shuffle(kinds)
    for n, ((cx, cy), kind) in enumerate(zip(cells, kinds)):
        index = (f * 5 + len([k for k in kinds[:n] if k == kind])) % 100
        img = images[index if kind == "face" else 100 + index]
        size = rng.choice([44, 52, 60, 72])
        x = cx * 96 + (96 - size) // 2 + rng.randint(-8, 8) + f
        y = cy * 135 + (135 - size) // 2 + rng.randint(-10, 10)
        x = max(0, min(W - size, x)); y = max(0, min(H - size, y))
        s = scaled(img, size)
        for j in range(size):
            for i in range(size):
                px[(y + j) * W + x + i] = int(max(0.0, min(1.0, s[j * size + i])) * 255)
        if kind == "face":
            faces.append({"x": x, "y": y, "w": size, "h": size})
    frames.append(bytes(px))
    labels.append({"frame": f, "faces": faces})
with open("clip.pgm", "wb") as out:
    for fr in frames:
        out.write(b"P5\n%d %d\n255\n" % (W, H))
        out.write(fr)
json.dump({"width": W, "height": H, "frames": labels,
           "source": "LFW faces and non-faces from scikit-image's lfw_subset.npy; see make-clip.py"},
          open("clip.json", "w"), indent=1)
