using Adb.Protocol;

namespace Adb.Cli.Server;

/// <summary>
/// The server's private keys for AUTH: <c>~/.android/adbkey</c> first (created with <c>adbkey.pub</c> when missing),
/// then the keys named by <c>ADB_VENDOR_KEYS</c> (a ':'-separated list of files or folders; folders contribute their
/// <c>*.adb_key</c> files). AOSP <c>client/auth.cpp</c> (adb_auth_init, adb_auth_get_userkey), reference §3.1.
/// </summary>
internal sealed class HostKeys
{
    /// <summary>Private keys, user key first, each tried once per connection attempt.</summary>
    public List<AdbKey> PrivateKeys { get; } = [];

    /// <summary>The text sent in AUTH(RSAPUBLICKEY): the content of adbkey.pub ("base64 user@host").</summary>
    public string PublicKeyText { get; private set; } = "";

    /// <summary>Folder holding adbkey: $HOME/.android (or $ANDROID_USER_HOME? not in 29.0.6).</summary>
    public static string AndroidDir()
    {
        string home = Environment.GetEnvironmentVariable("HOME") is { Length: > 0 } h ? h : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(home, ".android");
    }

    /// <summary>Loads (and creates if missing) the user key, then the vendor keys; errors are logged, not thrown.</summary>
    public static HostKeys LoadOrCreate(TextWriter log)
    {
        var keys = new HostKeys();
        string path = Path.Combine(AndroidDir(), "adbkey");
        try
        {
            var user = AdbKey.LoadOrCreate(path);
            keys.PrivateKeys.Add(user);
            try { keys.PublicKeyText = File.ReadAllText(path + ".pub").TrimEnd('\n', '\0'); }
            catch (IOException) { keys.PublicKeyText = user.PublicKeyLine(AdbKey.DefaultComment()); }
            if (keys.PublicKeyText.Length == 0) keys.PublicKeyText = user.PublicKeyLine(AdbKey.DefaultComment());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or AdbProtocolException)
        {
            log.WriteLine($"adb: failed to load/create user key {path}: {e.Message}");
        }
        string? vendor = Environment.GetEnvironmentVariable("ADB_VENDOR_KEYS");
        if (!string.IsNullOrEmpty(vendor))
        {
            foreach (string entry in vendor.Split(':', StringSplitOptions.RemoveEmptyEntries))
            {
                IEnumerable<string> files = Directory.Exists(entry)
                    ? Directory.EnumerateFiles(entry, "*.adb_key").Order(StringComparer.Ordinal)
                    : [entry];
                foreach (string f in files)
                {
                    try { keys.PrivateKeys.Add(AdbKey.Load(f)); }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException or AdbProtocolException)
                    {
                        log.WriteLine($"adb: failed to read vendor key {f}: {e.Message}");
                    }
                }
            }
        }
        return keys;
    }

    /// <summary>Signs an AUTH token with private key number <paramref name="index"/>.</summary>
    public byte[] Sign(int index, ReadOnlySpan<byte> token) => PrivateKeys[index].SignToken(token);
}
