using System.Runtime.InteropServices;

namespace Adb.Cli.Client;

/// <summary>
/// Write-only stream over file descriptor 1 or 2 using write(2), as AOSP's client writes its output. Not
/// <see cref="Console.OpenStandardOutput()"/>: the runtime's console initialisation first sends the terminal's
/// keypad-mode sequence ("\e[?1h\e="), which breaks a raw remote PTY and which AOSP never prints. Not a FileStream
/// either: on stdout redirected to a file it writes with pwrite at its own offsets (from 0), so
/// <c>{ adb shell a; adb shell b; } &gt; f</c> kept only the last output; write(2) uses the descriptor's offset.
/// On Windows it falls back to the console streams.
/// </summary>
internal sealed unsafe partial class StdoutStream(int fd) : Stream
{
    private readonly Stream? _fallback = OperatingSystem.IsWindows() ? (fd == 2 ? Console.OpenStandardError() : Console.OpenStandardOutput()) : null;

    /// <summary>Writes all of <paramref name="data"/> to <paramref name="fd"/>; a closed or broken descriptor drops it.</summary>
    public static void WriteAll(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            int done = 0;
            while (done < data.Length)
            {
                nint n = write(fd, p + done, data.Length - done);
                if (n < 0)
                {
                    if (Marshal.GetLastPInvokeError() == 4) continue; // EINTR
                    return; // stdout closed or broken: nothing to report to
                }
                done += (int)n;
            }
        }
    }

    /// <inheritdoc/>
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (_fallback is not null) _fallback.Write(buffer);
        else WriteAll(fd, buffer);
    }

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    /// <inheritdoc/>
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Write(buffer.AsSpan(offset, count));
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public override void Flush() => _fallback?.Flush();

    /// <inheritdoc/>
    public override bool CanRead => false;
    /// <inheritdoc/>
    public override bool CanSeek => false;
    /// <inheritdoc/>
    public override bool CanWrite => true;
    /// <inheritdoc/>
    public override long Length => throw new NotSupportedException();
    /// <inheritdoc/>
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    /// <inheritdoc/>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    /// <inheritdoc/>
    public override void SetLength(long value) => throw new NotSupportedException();

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint write(int fd, byte* buf, nint count);
}
