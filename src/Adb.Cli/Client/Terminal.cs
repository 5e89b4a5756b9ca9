using System.Runtime.InteropServices;

namespace Adb.Cli.Client;

/// <summary>
/// Raw mode and window size of the local terminal for interactive <c>adb shell</c>, through libc (termios
/// cfmakeraw/tcsetattr, ioctl TIOCGWINSZ), as AOSP's client does (<c>client/commandline.cpp</c> stdin_raw_init).
/// </summary>
internal static unsafe partial class Terminal
{
    private const int TermiosSize = 64; // struct termios is 60 bytes on Linux; keep some slack.
    private const int TCSAFLUSH = 2;
    private const ulong TIOCGWINSZ = 0x5413;

    /// <summary>Puts <paramref name="fd"/> in raw mode; returns the previous settings, or null if it is no terminal.</summary>
    public static byte[]? MakeRaw(int fd)
    {
        if (OperatingSystem.IsWindows()) return null;
        byte[] saved = new byte[TermiosSize];
        byte[] raw = new byte[TermiosSize];
        fixed (byte* p = saved)
        {
            if (tcgetattr(fd, p) != 0) return null;
        }
        saved.CopyTo(raw, 0);
        fixed (byte* p = raw)
        {
            cfmakeraw(p);
            if (tcsetattr(fd, TCSAFLUSH, p) != 0) return null;
        }
        return saved;
    }

    /// <summary>Restores settings returned by <see cref="MakeRaw"/>.</summary>
    public static void Restore(int fd, byte[] saved)
    {
        fixed (byte* p = saved) tcsetattr(fd, TCSAFLUSH, p);
    }

    /// <summary>Rows, columns and pixel size of the terminal on <paramref name="fd"/>.</summary>
    public static bool TryGetWindowSize(int fd, out int rows, out int cols, out int xPixels, out int yPixels)
    {
        rows = cols = xPixels = yPixels = 0;
        if (OperatingSystem.IsWindows()) return false;
        ushort* ws = stackalloc ushort[4];
        if (ioctl(fd, TIOCGWINSZ, ws) != 0) return false;
        rows = ws[0]; cols = ws[1]; xPixels = ws[2]; yPixels = ws[3];
        return true;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int tcgetattr(int fd, byte* termios);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int tcsetattr(int fd, int optionalActions, byte* termios);

    [LibraryImport("libc")]
    private static partial void cfmakeraw(byte* termios);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ioctl(int fd, ulong request, ushort* winsize);
}

/// <summary>File type checks through libc stat (.NET exposes no file type for devices and FIFOs).</summary>
internal static unsafe partial class UnixFile
{
    /// <summary>
    /// True when <paramref name="path"/> exists and is not a regular file (a device such as /dev/null, a FIFO...):
    /// such targets must be written in place, never replaced by a renamed temp file.
    /// </summary>
    public static bool IsSpecial(string path)
    {
        if (OperatingSystem.IsWindows()) return false;
        int modeOffset = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 24,
            Architecture.Arm64 => 16,
            _ => -1,
        };
        if (modeOffset < 0) return path.StartsWith("/dev/", StringComparison.Ordinal);
        byte* buf = stackalloc byte[256];
        if (stat(path, buf) != 0) return false;
        uint mode = *(uint*)(buf + modeOffset);
        return (mode & 0xf000) != 0x8000;
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int stat(string path, byte* buf);
}
