using System.Net;
using System.Net.Sockets;
using System.Text;
using Adb.Protocol;

namespace Adb.Cli.Server;

internal sealed partial class AdbServer
{
    /// <summary>ADB_SERVER_VERSION answered to host:version (41, sent as "0029"); Debian's client kills any other.</summary>
    public const int ServerVersion = 41;

    /// <summary>Features of this server (host:host-features): push_sync then those the 29.0.6 host lists, in its order.</summary>
    public static readonly IReadOnlyList<string> HostFeatureList = [AdbFeatures.PushSync, .. AdbFeatures.Host29];

    private readonly Dictionary<string, ForwardListener> _forwards = [];

    /// <summary>
    /// The host:devices / host:devices-l payload (AOSP list_transports / append_transport): "serial\tstate\n", or
    /// "%-22s state[ product:P][ model:M][ device:D] transport_id:N\n" with non-alphanumerics of the model as '_'.
    /// </summary>
    public string DeviceList(bool longForm)
    {
        var sb = new StringBuilder();
        foreach (var t in Transports())
        {
            string serial = t.Serial.Length == 0 ? "(no serial number)" : t.Serial;
            if (!longForm)
            {
                sb.Append(serial).Append('\t').Append(t.State.Name());
            }
            else
            {
                sb.Append(serial.PadRight(22)).Append(' ').Append(t.State.Name());
                Info(sb, "product:", t.Product, false);
                Info(sb, "model:", t.Model, true);
                Info(sb, "device:", t.DeviceName, false);
                sb.Append(" transport_id:").Append(t.Id);
            }
            sb.Append('\n');
        }
        return sb.ToString();

        static void Info(StringBuilder sb, string key, string? value, bool alnum)
        {
            if (string.IsNullOrEmpty(value)) return;
            sb.Append(' ').Append(key);
            foreach (char c in value) sb.Append(!alnum || char.IsAsciiLetterOrDigit(c) ? c : '_');
        }
    }

    /// <summary>Splits "host[:port]" / "[v6]:port" (default port 5555) into host, port and the serial "host:port".</summary>
    internal static bool TryParseNetAddress(string address, out string host, out int port, out string serial, out string error)
    {
        host = address; port = 5555; serial = ""; error = "";
        if (address.StartsWith('['))
        {
            int close = address.IndexOf(']');
            if (close < 0) { error = "missing ']' in IPv6 address"; return false; }
            host = address[1..close];
            string rest = address[(close + 1)..];
            if (rest.StartsWith(':') && !int.TryParse(rest[1..], out port)) { error = $"bad port number '{rest[1..]}'"; return false; }
            serial = $"[{host}]:{port}";
            return true;
        }
        int colon = address.IndexOf(':');
        if (colon >= 0 && address.IndexOf(':', colon + 1) < 0)
        {
            host = address[..colon];
            if (!int.TryParse(address[(colon + 1)..], out port) || port <= 0 || port > 65535)
            {
                error = $"bad port number '{address[(colon + 1)..]}'"; return false;
            }
        }
        if (host.Length == 0) { error = "no host"; return false; }
        serial = host.Contains(':') ? $"[{host}]:{port}" : $"{host}:{port}";
        return true;
    }

    /// <summary>host:connect: registers a TCP transport and waits up to 10 s for it; returns AOSP's message.</summary>
    public async Task<string> ConnectAsync(string address)
    {
        if (address.Length == 0) return "empty address";
        if (!TryParseNetAddress(address, out string host, out int port, out string serial, out string error))
            return $"failed to parse address '{address}': {error}";
        if (FindBySerial(serial) != null) return $"already connected to {serial}";
        var t = new DeviceTransport(this, serial, host, port);
        try
        {
            var result = await t.ConnectFirstAsync();
            if (result == ConnectionState.Unauthorized) return $"failed to authenticate to {serial}";
            if (result is ConnectionState.Offline) return $"failed to connect to {serial}";
            return $"connected to {serial}";
        }
        catch (SocketException e)
        {
            await t.DisposeAsync();
            return $"failed to connect to '{serial}': {SocketErrorText(e)}";
        }
    }

    /// <summary>strerror-like text for a socket error.</summary>
    internal static string SocketErrorText(SocketException e) => e.SocketErrorCode switch
    {
        SocketError.ConnectionRefused => "Connection refused",
        SocketError.TimedOut => "Connection timed out",
        SocketError.HostNotFound => "Name or service not known",
        SocketError.NetworkUnreachable => "Network is unreachable",
        _ => e.Message,
    };

    /// <summary>host:disconnect: one TCP transport, or all of them when the address is empty.</summary>
    public async Task<(bool Ok, string Message)> DisconnectAsync(string address)
    {
        if (address.Length == 0)
        {
            foreach (var t in Transports()) await t.KickAsync();
            return (true, "disconnected everything");
        }
        if (!TryParseNetAddress(address, out _, out _, out string serial, out string error))
            return (false, $"couldn't parse '{address}': {error}");
        var found = FindBySerial(serial);
        if (found == null) return (false, $"no such device '{serial}'");
        await found.KickAsync();
        return (true, $"disconnected {address}");
    }

    // ---- forwards ----------------------------------------------------------------------------------------------

    /// <summary>host:list-forward payload: "serial local remote\n" lines.</summary>
    public string ListForwards()
    {
        var sb = new StringBuilder();
        lock (_forwards)
            foreach (var f in _forwards.Values) sb.Append(f.Transport.Serial).Append(' ').Append(f.Local).Append(' ').Append(f.Remote).Append('\n');
        return sb.ToString();
    }

    /// <summary>Installs (or rebinds) a forward listener. Returns the bound TCP port when the spec was tcp:0.</summary>
    public (bool Ok, int Port, string? Error) InstallForward(DeviceTransport t, string local, string remote, bool norebind)
    {
        lock (_forwards)
        {
            if (_forwards.TryGetValue(local, out var existing))
            {
                if (norebind) return (false, 0, "cannot rebind existing socket");
                existing.Transport = t;
                existing.Remote = remote;
                return (true, 0, null);
            }
            if (!local.StartsWith("tcp:", StringComparison.Ordinal) || !int.TryParse(local[4..], out int port) || port < 0 || port > 65535)
                return (false, 0, $"cannot bind listener: unsupported local spec '{local}'");
            TcpListener l;
            try
            {
                l = new TcpListener(IPAddress.Loopback, port);
                l.Start(64);
            }
            catch (SocketException e)
            {
                return (false, 0, $"cannot bind listener: cannot bind to 127.0.0.1:{port}: {SocketErrorText(e)}");
            }
            int bound = ((IPEndPoint)l.LocalEndpoint).Port;
            string key = port == 0 ? $"tcp:{bound}" : local;
            var f = new ForwardListener(this, l, key, remote, t);
            _forwards[key] = f;
            f.Start();
            return (true, port == 0 ? bound : 0, null);
        }
    }

    /// <summary>Removes one listener; false if there is none.</summary>
    public bool RemoveForward(string local)
    {
        ForwardListener? f;
        lock (_forwards)
        {
            if (!_forwards.Remove(local, out f)) return false;
        }
        f.Dispose();
        return true;
    }

    /// <summary>Removes every listener.</summary>
    public void RemoveAllForwards()
    {
        ForwardListener[] all;
        lock (_forwards)
        {
            all = [.. _forwards.Values];
            _forwards.Clear();
        }
        foreach (var f in all) f.Dispose();
    }

    private void RemoveForwardsOf(DeviceTransport t)
    {
        ForwardListener[] gone;
        lock (_forwards)
        {
            gone = [.. _forwards.Values.Where(f => f.Transport == t)];
            foreach (var f in gone) _forwards.Remove(f.Local);
        }
        foreach (var f in gone) f.Dispose();
    }

    /// <summary>A local TCP listener whose connections become device streams to <see cref="Remote"/>.</summary>
    private sealed class ForwardListener(AdbServer server, TcpListener listener, string local, string remote, DeviceTransport transport) : IDisposable
    {
        public string Local { get; } = local;
        public string Remote { get; set; } = remote;
        public DeviceTransport Transport { get; set; } = transport;

        public void Start() => _ = Task.Run(async () =>
        {
            while (true)
            {
                Socket s;
                try { s = await listener.AcceptSocketAsync(); }
                catch { return; }
                s.NoDelay = true;
                _ = Task.Run(async () =>
                {
                    var ns = new NetworkStream(s, ownsSocket: true);
                    var stream = await Transport.OpenAsync(Remote);
                    if (stream == null)
                    {
                        server.WriteLog($"forward {Local} -> {Remote}: device refused");
                        ns.Dispose();
                        return;
                    }
                    await stream.RelayAsync(ns, s);
                });
            }
        });

        public void Dispose()
        {
            try { listener.Stop(); } catch { }
        }
    }
}
