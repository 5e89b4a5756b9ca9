using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Adb.Daemon.Native;

namespace Adb.Daemon.Services;

/// <summary>
/// Forward destinations (AOSP <c>socket_spec.cpp</c>): <c>tcp:PORT</c>, <c>tcp:HOST:PORT</c>,
/// <c>localabstract:NAME</c>, <c>localreserved:NAME</c> (/dev/socket/NAME), <c>localfilesystem:PATH</c> and
/// <c>local:PATH</c>. The daemon connects (as the connection's identity for Unix sockets) and relays bytes both
/// ways; a failed connect refuses the stream with CLSE, never the transport.
/// </summary>
internal static class ForwardService
{
    /// <summary>Whether <paramref name="service"/> is a forward destination.</summary>
    public static bool IsForward(string service) =>
        service.StartsWith("tcp:", StringComparison.Ordinal) || service.StartsWith("localabstract:", StringComparison.Ordinal) ||
        service.StartsWith("localreserved:", StringComparison.Ordinal) || service.StartsWith("localfilesystem:", StringComparison.Ordinal) ||
        service.StartsWith("local:", StringComparison.Ordinal);

    /// <summary>Parses a socket spec into an endpoint.</summary>
    /// <exception cref="FormatException">Malformed spec (bad port...).</exception>
    public static EndPoint ParseEndPoint(string spec)
    {
        if (spec.StartsWith("tcp:", StringComparison.Ordinal))
        {
            string rest = spec[4..];
            string host = "127.0.0.1";
            int colon = rest.LastIndexOf(':');
            if (colon >= 0) { host = rest[..colon].Trim('[', ']'); rest = rest[(colon + 1)..]; }
            if (!int.TryParse(rest, out int port) || port is < 0 or > 65535) throw new FormatException($"bad port number '{rest}'");
            return IPAddress.TryParse(host, out var ip) ? new IPEndPoint(ip, port) : new DnsEndPoint(host, port);
        }
        if (spec.StartsWith("localabstract:", StringComparison.Ordinal)) return new UnixDomainSocketEndPoint("\0" + spec["localabstract:".Length..]);
        if (spec.StartsWith("localreserved:", StringComparison.Ordinal)) return new UnixDomainSocketEndPoint("/dev/socket/" + spec["localreserved:".Length..]);
        if (spec.StartsWith("localfilesystem:", StringComparison.Ordinal)) return new UnixDomainSocketEndPoint(spec["localfilesystem:".Length..]);
        if (spec.StartsWith("local:", StringComparison.Ordinal)) return new UnixDomainSocketEndPoint(spec["local:".Length..]);
        throw new FormatException($"unknown socket specification '{spec}'");
    }

    /// <summary>Connects to the destination; throws on failure.</summary>
    public static async Task<Socket> ConnectAsync(string spec, Identity identity)
    {
        var ep = ParseEndPoint(spec);
        if (ep is UnixDomainSocketEndPoint)
        {
            var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try { identity.Impersonate(() => s.Connect(ep)); }
            catch { s.Dispose(); throw; }
            return s;
        }
        var tcp = ep is IPEndPoint ip ? new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp) : new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await tcp.ConnectAsync(ep, cts.Token).ConfigureAwait(false);
            tcp.NoDelay = true;
        }
        catch { tcp.Dispose(); throw; }
        return tcp;
    }

    /// <summary>Relays between an adb stream and a socket until either side closes.</summary>
    public static async Task RelayAsync(AdbSocket adb, Socket socket)
    {
        using var net = new NetworkStream(socket, ownsSocket: true);
        var toAdb = Task.Run(async () =>
        {
            byte[] buf = ArrayPool<byte>.Shared.Rent(256 * 1024);
            try
            {
                while (true)
                {
                    int n = await net.ReadAsync(buf).ConfigureAwait(false);
                    if (n == 0) break;
                    await adb.WriteAsync(buf.AsMemory(0, n)).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException) { }
            finally { ArrayPool<byte>.Shared.Return(buf); }
        });
        var fromAdb = Task.Run(async () =>
        {
            byte[] buf = ArrayPool<byte>.Shared.Rent(256 * 1024);
            try
            {
                while (true)
                {
                    int n = await adb.ReadAsync(buf).ConfigureAwait(false);
                    if (n == 0) break;
                    await net.WriteAsync(buf.AsMemory(0, n)).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException) { }
            finally { ArrayPool<byte>.Shared.Return(buf); }
        });
        await Task.WhenAny(toAdb, fromAdb).ConfigureAwait(false);
        try { socket.Shutdown(SocketShutdown.Both); } catch (Exception) { }
        socket.Close();
        await Task.WhenAll(toAdb, fromAdb).ConfigureAwait(false);
    }
}
