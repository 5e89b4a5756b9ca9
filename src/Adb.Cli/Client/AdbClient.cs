using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using Adb.Cli.Server;

namespace Adb.Cli.Client;

/// <summary>
/// The client's side of the smart socket (AOSP <c>client/adb_client.cpp</c>: adb_connect, adb_query,
/// switch_socket_transport, format_host_command): connects to the server, starts one on demand, checks
/// <c>host:version</c> once per process, and prefixes requests with the selected transport.
/// </summary>
internal sealed class AdbClient(ClientOptions options)
{
    private bool _versionChecked;

    /// <summary>The options (server address, transport selection).</summary>
    public ClientOptions Options => options;

    /// <summary>"host-serial:S:cmd", "host-transport-id:N:cmd", "host-usb:cmd", "host-local:cmd" or "host:cmd".</summary>
    public string FormatHostCommand(string command)
    {
        if (options.TransportId is long id) return $"host-transport-id:{id}:{command}";
        if (options.Serial is string s) return $"host-serial:{s}:{command}";
        return options.Type switch
        {
            TransportType.Usb => $"host-usb:{command}",
            TransportType.Local => $"host-local:{command}",
            _ => $"host:{command}",
        };
    }

    /// <summary>Opens a TCP connection to the server; null when nothing listens.</summary>
    private async Task<NetworkStream?> TryOpenAsync()
    {
        var s = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            s.Connect(options.ServerHost, options.ServerPort);
            await Task.CompletedTask;
            s.NoDelay = true;
            return new NetworkStream(s, ownsSocket: true);
        }
        catch (SocketException)
        {
            s.Dispose();
            return null;
        }
    }

    /// <summary>Connects, starting the server when needed and checking its version once (AOSP adb_connect).</summary>
    /// <exception cref="AdbException">"cannot connect to daemon…" and similar.</exception>
    public async Task<NetworkStream> ConnectAsync(bool autoStart = true)
    {
        if (!_versionChecked)
        {
            _versionChecked = true;
            var v = await TryOpenAsync();
            if (v == null)
            {
                if (!autoStart) throw new AdbException($"cannot connect to daemon at tcp:{options.ServerPort}: Connection refused");
                await LaunchServerAsync();
            }
            else
            {
                int version;
                try
                {
                    SmartSocket.SendRequest(v, "host:version");
                    string? fail = SmartSocket.ReadStatus(v);
                    version = fail == null && int.TryParse(SmartSocket.ReadProtocolString(v), System.Globalization.NumberStyles.HexNumber, null, out int x) ? x : 0;
                }
                catch (AdbException) { version = 0; }
                finally { v.Dispose(); }
                if (version != AdbServer.ServerVersion)
                {
                    Console.Error.WriteLine($"adb server version ({version}) doesn't match this client ({AdbServer.ServerVersion}); killing...");
                    await KillServerAsync();
                    await Task.Delay(100);
                    await LaunchServerAsync();
                }
            }
        }
        var s = await TryOpenAsync();
        if (s == null) throw new AdbException($"cannot connect to daemon at tcp:{options.ServerPort}: Connection refused");
        return s;
    }

    /// <summary>Sends host:kill and waits for the server to close the socket.</summary>
    public async Task<bool> KillServerAsync()
    {
        var s = await TryOpenAsync();
        if (s == null) return false;
        using (s)
        {
            SmartSocket.SendRequest(s, "host:kill");
            try
            {
                SmartSocket.ReadStatus(s);
                byte[] b = new byte[16];
                while (s.Read(b) > 0) { }
            }
            catch (Exception e) when (e is AdbException or IOException) { }
        }
        return true;
    }

    /// <summary>
    /// Starts a background server (<c>adb -L tcp:PORT fork-server server</c>) and waits for its "OK" line, printing
    /// AOSP's "* daemon not running; starting now at tcp:PORT" / "* daemon started successfully".
    /// </summary>
    /// <exception cref="AdbException">"failed to start daemon".</exception>
    public async Task LaunchServerAsync()
    {
        Console.Error.WriteLine($"* daemon not running; starting now at tcp:{options.ServerPort}");
        string exe = Environment.ProcessPath ?? "adb";
        var psi = new ProcessStartInfo(exe)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Run under "dotnet adb.dll" (tests): start the same way.
        if (Path.GetFileNameWithoutExtension(exe) == "dotnet") psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "adb.dll"));
        foreach (string a in (string[])["-L", $"tcp:{options.ServerPort}", "fork-server", "server", "--reply-fd", "1"]) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new AdbException("* failed to start daemon");
        p.StandardInput.Close();
        var line = p.StandardOutput.ReadLineAsync();
        var done = await Task.WhenAny(line, Task.Delay(20_000));
        string? reply = done == line ? await line : null;
        if (reply != "OK")
        {
            string err = "";
            try { if (p.HasExited) err = await p.StandardError.ReadToEndAsync(); } catch { }
            if (err.Length > 0) Console.Error.Write(err);
            Console.Error.WriteLine("* failed to start daemon");
            throw new AdbException("cannot connect to daemon");
        }
        Console.Error.WriteLine("* daemon started successfully");
    }

    /// <summary>adb_query: sends a host request and returns the OKAY payload (hex4 string).</summary>
    /// <exception cref="AdbException">the FAIL message.</exception>
    public async Task<string> QueryAsync(string request)
    {
        using var s = await ConnectAsync();
        SmartSocket.SendRequest(s, request);
        string? fail = SmartSocket.ReadStatus(s);
        if (fail != null) throw new AdbException(fail);
        return SmartSocket.ReadProtocolString(s);
    }

    /// <summary>Sends a host request and checks the first status only; returns the open socket.</summary>
    public async Task<NetworkStream> CommandAsync(string request)
    {
        var s = await ConnectAsync();
        SmartSocket.SendRequest(s, request);
        string? fail = SmartSocket.ReadStatus(s);
        if (fail != null) { s.Dispose(); throw new AdbException(fail); }
        return s;
    }

    /// <summary>
    /// Opens a device service: <c>host:tport:…</c> (reads OKAY + 8-byte transport id), then the service.
    /// </summary>
    /// <exception cref="AdbException">FAIL from the transport switch or the service ("closed").</exception>
    public async Task<(NetworkStream Stream, long TransportId)> OpenServiceAsync(string service)
    {
        var s = await ConnectAsync();
        try
        {
            string sw = options.TransportId is long id ? $"host:tport:transport-id:{id}"
                : options.Serial is string serial ? $"host:tport:serial:{serial}"
                : options.Type switch { TransportType.Usb => "host:tport:usb", TransportType.Local => "host:tport:local", _ => "host:tport:any" };
            SmartSocket.SendRequest(s, sw);
            string? fail = SmartSocket.ReadStatus(s);
            if (fail != null) throw new AdbException(fail);
            byte[] idb = new byte[8];
            if (!SmartSocket.TryReadExact(s, idb)) throw new AdbException("failed to read transport id");
            long tid = BinaryPrimitives.ReadInt64LittleEndian(idb);
            SmartSocket.SendRequest(s, service);
            fail = SmartSocket.ReadStatus(s);
            if (fail != null) throw new AdbException(fail);
            return (s, tid);
        }
        catch
        {
            s.Dispose();
            throw;
        }
    }

    /// <summary>The device's features (host[-serial:S]:features).</summary>
    public async Task<HashSet<string>> DeviceFeaturesAsync()
    {
        string f = await QueryAsync(FormatHostCommand("features"));
        return [.. f.Split(',', StringSplitOptions.RemoveEmptyEntries)];
    }
}

/// <summary>Global options of the CLI (AOSP <c>client/commandline.cpp</c> adb_commandline).</summary>
internal sealed class ClientOptions
{
    /// <summary>-s SERIAL or $ANDROID_SERIAL.</summary>
    public string? Serial { get; set; }
    /// <summary>-t ID.</summary>
    public long? TransportId { get; set; }
    /// <summary>-d (usb) / -e (local).</summary>
    public TransportType Type { get; set; } = TransportType.Any;
    /// <summary>-H host (default localhost).</summary>
    public string ServerHost { get; set; } = "127.0.0.1";
    /// <summary>-P port, -L tcp:port, $ANDROID_ADB_SERVER_PORT (default 5037).</summary>
    public int ServerPort { get; set; } = 5037;
}
