using System.Runtime.InteropServices;
using SkiaSharp;

namespace MLNet.FlatDebias.Datasets.Mnist;

/// <summary>
/// Paints one image of <see cref="WaterbirdsMnist"/>: a light MNIST digit over a textured "land" or "water"
/// background. Land: earthy greens and browns in a mottled pattern (a sum of three low-frequency plane waves in
/// random directions). Water: blues in horizontal, gently bent wave stripes. Base colour, frequencies, phases and
/// the digit's position vary per image, so the place is learnable from colour and texture but is no constant.
/// </summary>
internal static class WaterbirdsMnistPainter
{
    private static readonly (int R, int G, int B)[] LandColors = [(58, 95, 40), (86, 110, 45), (107, 80, 45), (70, 100, 60)];
    private static readonly (int R, int G, int B)[] WaterColors = [(30, 70, 130), (25, 95, 140), (45, 80, 120), (20, 105, 125)];

    /// <summary>Side of the digit as a share of the image side.</summary>
    private const double DigitScale = 0.7;

    /// <summary>Largest shift of the digit from the centre, as a share of the image side.</summary>
    private const double DigitShift = 0.08;

    /// <summary>RGBA pixels (opaque), row-major, <paramref name="size"/>² × 4 bytes.</summary>
    public static byte[] Paint(byte[,,] digits, int row, int place, int size, Random random)
    {
        var pixels = new byte[size * size * 4];
        var background = place == 1 ? WaterBackground(size, random) : LandBackground(size, random);
        int inkR = 235 + random.Next(-10, 11), inkG = 235 + random.Next(-10, 11), inkB = 225 + random.Next(-10, 11);

        int digitSide = Math.Max(1, (int)Math.Round(DigitScale * size));
        int maxShift = (int)Math.Round(DigitShift * size);
        int left = (size - digitSide) / 2 + random.Next(-maxShift, maxShift + 1);
        int top = (size - digitSide) / 2 + random.Next(-maxShift, maxShift + 1);
        for (int y = 0; y < size; y++)
        {
            for (int x = 0; x < size; x++)
            {
                int p = y * size + x;
                float alpha = Ink(digits, row, (x - left + 0.5) * digits.GetLength(2) / digitSide - 0.5, (y - top + 0.5) * digits.GetLength(1) / digitSide - 0.5);
                pixels[4 * p] = Blend(background[3 * p], inkR, alpha);
                pixels[4 * p + 1] = Blend(background[3 * p + 1], inkG, alpha);
                pixels[4 * p + 2] = Blend(background[3 * p + 2], inkB, alpha);
                pixels[4 * p + 3] = 255;
            }
        }
        return pixels;
    }

    /// <summary>Writes RGBA pixels as a PNG file.</summary>
    public static void SavePng(byte[] rgba, int size, string path)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Opaque));
        if (bitmap.RowBytes != size * 4) throw new InvalidOperationException($"Unexpected row stride {bitmap.RowBytes} for a {size}-pixel RGBA row.");
        Marshal.Copy(rgba, 0, bitmap.GetPixels(), rgba.Length);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100)
            ?? throw new InvalidOperationException($"SkiaSharp could not encode '{path}' as PNG.");
        using var file = File.Create(path);
        data.SaveTo(file);
    }

    private static float[] LandBackground(int size, Random random)
    {
        var (r, g, b) = Jittered(LandColors[random.Next(LandColors.Length)], 12, random);
        var waves = new (double Fx, double Fy, double Phase)[3];
        for (int k = 0; k < waves.Length; k++)
        {
            double angle = random.NextDouble() * Math.PI, cycles = 1.5 + 2.5 * random.NextDouble();
            waves[k] = (cycles * Math.Cos(angle) / size, cycles * Math.Sin(angle) / size, random.NextDouble() * 2 * Math.PI);
        }
        return Fill(size, (r, g, b), 0.25, 8, random, (x, y) =>
        {
            double v = 0;
            foreach (var (fx, fy, phase) in waves) v += Math.Sin(2 * Math.PI * (fx * x + fy * y) + phase);
            return v / waves.Length;
        });
    }

    private static float[] WaterBackground(int size, Random random)
    {
        var (r, g, b) = Jittered(WaterColors[random.Next(WaterColors.Length)], 12, random);
        double cycles = 4 + 4 * random.NextDouble(), bend = 0.05 + 0.15 * random.NextDouble(), bendCycles = 1 + random.NextDouble();
        double phase = random.NextDouble() * 2 * Math.PI, bendPhase = random.NextDouble() * 2 * Math.PI;
        return Fill(size, (r, g, b), 0.2, 6, random,
            (x, y) => Math.Sin(2 * Math.PI * (cycles * y / size + bend * Math.Sin(2 * Math.PI * bendCycles * x / size + bendPhase)) + phase));
    }

    /// <summary>Base colour × (1 + contrast · pattern) plus uniform noise of ±<paramref name="noise"/>; RGB floats.</summary>
    private static float[] Fill(int size, (int R, int G, int B) color, double contrast, int noise, Random random, Func<int, int, double> pattern)
    {
        var rgb = new float[size * size * 3];
        for (int y = 0, p = 0; y < size; y++)
        {
            for (int x = 0; x < size; x++, p++)
            {
                double light = 1 + contrast * pattern(x, y);
                rgb[3 * p] = (float)(color.R * light + random.Next(-noise, noise + 1));
                rgb[3 * p + 1] = (float)(color.G * light + random.Next(-noise, noise + 1));
                rgb[3 * p + 2] = (float)(color.B * light + random.Next(-noise, noise + 1));
            }
        }
        return rgb;
    }

    private static (int R, int G, int B) Jittered((int R, int G, int B) c, int by, Random random)
        => (c.R + random.Next(-by, by + 1), c.G + random.Next(-by, by + 1), c.B + random.Next(-by, by + 1));

    /// <summary>The digit's ink on [0, 1] at a fractional pixel position, bilinear, 0 outside.</summary>
    private static float Ink(byte[,,] digits, int row, double x, double y)
    {
        int h = digits.GetLength(1), w = digits.GetLength(2);
        int x0 = (int)Math.Floor(x), y0 = (int)Math.Floor(y);
        double fx = x - x0, fy = y - y0;
        double Pixel(int px, int py) => px < 0 || py < 0 || px >= w || py >= h ? 0 : digits[row, py, px];
        double v = (1 - fy) * ((1 - fx) * Pixel(x0, y0) + fx * Pixel(x0 + 1, y0)) + fy * ((1 - fx) * Pixel(x0, y0 + 1) + fx * Pixel(x0 + 1, y0 + 1));
        return (float)(v / 255);
    }

    private static byte Blend(float background, int ink, float alpha)
        => (byte)Math.Clamp(Math.Round(background * (1 - alpha) + ink * alpha), 0, 255);
}
