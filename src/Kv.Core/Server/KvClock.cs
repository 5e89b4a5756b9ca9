using System.Diagnostics;

namespace Kv.Server;

/// <summary>
/// Unix time in milliseconds derived from the monotonic <see cref="Stopwatch"/> clock, anchored to the wall clock
/// and re-anchored at most every <see cref="ReanchorTicks"/> (so a wall-clock step shows within a second, as the
/// cached <c>server.mstime</c> of redis follows <c>gettimeofday</c>). One monotonic read gives both the command
/// duration for INFO commandstats and the command's time snapshot, where <see cref="DateTimeOffset.UtcNow"/> plus
/// two <see cref="Stopwatch"/> reads per command cost three clock calls (server.c call(): the time snapshot and
/// the duration of each command).
/// </summary>
public static class KvClock
{
    private sealed record Anchor(long Ticks, long UnixMs);

    /// <summary>Stopwatch ticks after which the anchor is refreshed from the wall clock (one second).</summary>
    public static readonly long ReanchorTicks = Stopwatch.Frequency;

    private static readonly double MsPerTick = 1000.0 / Stopwatch.Frequency;
    private static Anchor _anchor = new(Stopwatch.GetTimestamp(), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());

    /// <summary>Current monotonic timestamp (<see cref="Stopwatch"/> ticks).</summary>
    public static long Ticks() => Stopwatch.GetTimestamp();

    /// <summary>Unix time in milliseconds now.</summary>
    public static long UnixMs() => UnixMsAt(Stopwatch.GetTimestamp());

    /// <summary>Unix time in milliseconds at monotonic timestamp <paramref name="ticks"/> (a recent <see cref="Ticks"/> value).</summary>
    public static long UnixMsAt(long ticks)
    {
        var a = _anchor;
        long delta = ticks - a.Ticks;
        if (delta >= 0 && delta < ReanchorTicks) return a.UnixMs + (long)(delta * MsPerTick);
        // Re-anchor: the wall clock wins (it may have been stepped); never go back before the previous anchor's
        // reading by more than the step itself.
        var now = new Anchor(Stopwatch.GetTimestamp(), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        _anchor = now;
        return now.UnixMs - (long)((now.Ticks - ticks) * MsPerTick);
    }

    /// <summary>Microseconds between two <see cref="Ticks"/> values.</summary>
    public static long ElapsedMicroseconds(long from, long to) => (long)((to - from) * (1_000_000.0 / Stopwatch.Frequency));
}
