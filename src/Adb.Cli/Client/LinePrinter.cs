using System.Text;

namespace Adb.Cli.Client;

/// <summary>
/// Status output of push/pull as AOSP's client prints it (<c>client/line_printer.cpp</c>, after ninja's): on a
/// "smart" terminal (stdout is a tty and TERM is set and not "dumb") an info line overwrites the previous one
/// ("\r" + text elided in the middle to the terminal width + "\e[K") and <see cref="KeepInfoLine"/> ends it with
/// "\n"; otherwise info lines are only remembered and <see cref="KeepInfoLine"/> prints the last one.
/// </summary>
/// <remarks>Writes are write(2) calls on file descriptor 1, not <see cref="Console.Out"/>: the runtime's console
/// initialisation would first send the terminal's keypad-mode sequence ("\e[?1h\e="), which AOSP's client never
/// prints. (Not a FileStream either: on a redirected-to-file stdout it would use pwrite at its own offsets.)</remarks>
internal static class LinePrinter
{
    private static string _infoLine = "";
    private static bool _haveBlankLine = true;

    /// <summary>True when info lines are drawn over each other (tty stdout, TERM set and not "dumb").</summary>
    public static bool Smart { get; } = ComputeSmart();

    private static bool ComputeSmart()
    {
        if (Console.IsOutputRedirected) return false;
        string? term = Environment.GetEnvironmentVariable("TERM");
        return !string.IsNullOrEmpty(term) && term != "dumb";
    }

    /// <summary>Shows a transient status line (progress, "pull: building file list...").</summary>
    public static void Info(string text)
    {
        if (!Smart)
        {
            _infoLine = text + "\n";
            return;
        }
        if (Terminal.TryGetWindowSize(1, out _, out int cols, out _, out _) && cols > 0) text = ElideMiddle(text, cols);
        Write("\r" + text + "\x1b[K");
        _haveBlankLine = false;
    }

    /// <summary>Prints an error line ("\r" first on a smart terminal, so it starts at the left margin).</summary>
    public static void Error(string text)
    {
        Write((Smart ? "\r" : "") + text + "\n");
        _haveBlankLine = true;
    }

    /// <summary>Keeps the current info line: ends it with a newline (smart) or prints it (otherwise).</summary>
    public static void KeepInfoLine()
    {
        if (!Smart)
        {
            Write(_infoLine);
            _infoLine = "";
            return;
        }
        if (!_haveBlankLine) Write("\n");
        _haveBlankLine = true;
    }

    /// <summary>ninja's ElideMiddle: when text + 3 exceeds the width, keeps (width-3)/2 characters each side of "...".</summary>
    internal static string ElideMiddle(string text, int width)
    {
        const int margin = 3;
        if (text.Length + margin <= width) return text;
        int keep = Math.Max(0, (width - margin) / 2);
        if (keep > text.Length) return text;
        return text[..keep] + "..." + text[^keep..];
    }

    private static void Write(string s)
    {
        if (OperatingSystem.IsWindows())
        {
            Console.Out.Write(s);
            Console.Out.Flush();
            return;
        }
        StdoutStream.WriteAll(1, Encoding.UTF8.GetBytes(s));
    }

}
